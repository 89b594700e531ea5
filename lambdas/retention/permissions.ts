/** Exactly the AWS API actions the retention function's code calls (compared with its synthesized policy). */
export const IAM_ACTIONS = [
  'rds-data:ExecuteStatement',
  'rds-data:BatchExecuteStatement',
  'rds-data:BeginTransaction',
  'rds-data:CommitTransaction',
  'rds-data:RollbackTransaction',
  'secretsmanager:GetSecretValue',
  'dynamodb:GetItem',
  'dynamodb:PutItem',
  'dynamodb:DeleteItem',
  'dynamodb:Query',
  // multipart upload (lib-storage) and a single PUT for small objects; HEAD and ranged GETs to verify and restore
  's3:PutObject',
  's3:GetObject',
  's3:AbortMultipartUpload',
  // SSE-KMS objects: encrypt on upload, decrypt on read
  'kms:GenerateDataKey',
  'kms:Decrypt',
] as const;
