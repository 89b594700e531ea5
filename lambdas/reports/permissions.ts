/** The AWS API actions the scheduled reports' code calls (the CDK grants exactly these). */
export const IAM_ACTIONS = [
  'rds-data:ExecuteStatement',
  'secretsmanager:GetSecretValue',
  'dynamodb:GetItem',
  'dynamodb:PutItem',
  'dynamodb:DeleteItem',
  'dynamodb:Query',
  's3:PutObject',
  'kms:GenerateDataKey',
] as const;
