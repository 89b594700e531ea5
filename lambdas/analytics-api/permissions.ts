/** The AWS API actions the analytics API's code calls (the CDK grants exactly these). */
export const IAM_ACTIONS = ['rds-data:ExecuteStatement', 'secretsmanager:GetSecretValue'] as const;
