import { DATA_API_ACTIONS, RUN_LEDGER_ACTIONS } from '../shared/permissions';

/**
 * What the cold-store module (cold-store.ts) and the copy-on-write of an object (rewrite.ts, retire.ts)
 * call, wherever they are bundled (retention, privacy).
 */
export const COLD_STORE_ACTIONS = [
  // multipart upload (lib-storage) and a single PUT for small objects; HEAD and ranged GETs to verify and restore
  's3:PutObject',
  's3:GetObject',
  's3:AbortMultipartUpload',
  // ListObjectsV2 on the tables' prefixes: objects there that the manifest does not hold are reported
  's3:ListBucket',
  // A superseded object (its rows back in PostgreSQL or in a verified successor) leaves with every
  // version (retire.ts): ListObjectVersions, then DeleteObject with each VersionId
  's3:ListBucketVersions',
  's3:DeleteObject',
  's3:DeleteObjectVersion',
  // SSE-KMS objects: encrypt on upload, decrypt on read
  'kms:GenerateDataKey',
  'kms:Decrypt',
] as const;

/** Exactly the AWS API actions the retention function's code calls (compared with its synthesized policy). */
export const IAM_ACTIONS = [...DATA_API_ACTIONS, ...RUN_LEDGER_ACTIONS, ...COLD_STORE_ACTIONS] as const;
