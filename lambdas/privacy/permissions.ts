import { DATA_API_ACTIONS } from '../shared/permissions';

/**
 * Exactly the AWS API actions the privacy function's code calls (compared with its synthesized
 * policy and with the SDK calls in its bundle by test/infra/iam.test.ts). With retention (restore),
 * the only function that removes cold objects' versions.
 */
export const IAM_ACTIONS = [
  ...DATA_API_ACTIONS,
  // Valkey IAM authentication as its own cache user (the subject's live checkpoints)
  'elasticache:Connect',
  // cold objects: read and verified (HEAD, ranged GETs), successors written (a single PUT or a
  // multipart upload), receipts and exports written under their own prefixes
  's3:PutObject',
  's3:GetObject',
  's3:AbortMultipartUpload',
  // the S3 cold-store module's listing (ListObjectsV2), on the tables' prefixes only
  's3:ListBucket',
  // a superseded object leaves with every version: ListObjectVersions, then DeleteObject per VersionId
  's3:ListBucketVersions',
  's3:DeleteObject',
  's3:DeleteObjectVersion',
  // SSE-KMS objects: encrypt on upload, decrypt on read
  'kms:GenerateDataKey',
  'kms:Decrypt',
] as const;
