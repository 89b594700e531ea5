import { Duration, RemovalPolicy, Stack, type StackProps, Validations } from 'aws-cdk-lib';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as elasticache from 'aws-cdk-lib/aws-elasticache';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as rds from 'aws-cdk-lib/aws-rds';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as subs from 'aws-cdk-lib/aws-sns-subscriptions';
import type { Construct } from 'constructs';
import { archiveAccessString } from '../../lambdas/archive/acl';
import { DB_ROLES } from '../../lambdas/shared/db-roles';
import type { EnvironmentConfig } from '../config';

export interface StatefulStackProps extends StackProps {
  readonly config: EnvironmentConfig;
}

/**
 * Data that survives redeploys: network, Valkey checkpoints, Aurora, cold storage, run ledger,
 * the alarm topic. No NAT gateway: isolated subnets with VPC endpoints only.
 */
export class StatefulStack extends Stack {
  readonly vpc: ec2.Vpc;
  readonly cluster: rds.DatabaseCluster;
  readonly cache: elasticache.CfnServerlessCache;
  /** The security group the archive function runs in: the only one Valkey admits. */
  readonly archiveSecurityGroup: ec2.SecurityGroup;
  /** Valkey user the archive function authenticates as, with IAM. */
  readonly archiveCacheUser: elasticache.CfnUser;
  /** Valkey user the privacy function (an erasure) authenticates as: the archive's key families and commands. */
  readonly privacyCacheUser: elasticache.CfnUser;
  readonly coldBucket: s3.Bucket;
  readonly coldKey: kms.Key;
  readonly ledger: dynamodb.TableV2;
  readonly alarmTopic: sns.Topic;
  readonly config: EnvironmentConfig;
  /** One secret per database role of the registry (lambdas/shared/db-roles.ts), by role name. */
  readonly roleSecrets: Readonly<Record<string, rds.DatabaseSecret>>;

  constructor(scope: Construct, id: string, props: StatefulStackProps) {
    super(scope, id, props);
    const { config } = props;
    this.config = config;
    const prefix = `dlc-${config.name}`;
    const removalPolicy = config.retainData ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY;

    // ------------------------------------------------------------------ network
    this.vpc = new ec2.Vpc(this, 'Vpc', {
      maxAzs: 2,
      natGateways: 0,
      subnetConfiguration: [{ name: 'isolated', subnetType: ec2.SubnetType.PRIVATE_ISOLATED, cidrMask: 24 }],
      gatewayEndpoints: {
        S3: { service: ec2.GatewayVpcEndpointAwsService.S3 },
        DynamoDB: { service: ec2.GatewayVpcEndpointAwsService.DYNAMODB },
      },
      flowLogs: {
        rejected: {
          trafficType: ec2.FlowLogTrafficType.REJECT,
          destination: ec2.FlowLogDestination.toCloudWatchLogs(
            new logs.LogGroup(this, 'FlowLogs', { retention: logs.RetentionDays.ONE_MONTH, removalPolicy }),
          ),
        },
      },
    });
    this.archiveSecurityGroup = new ec2.SecurityGroup(this, 'ArchiveFunctionSg', {
      vpc: this.vpc,
      description: 'The archive function: reaches Valkey, and AWS APIs through VPC endpoints',
      allowAllOutbound: false,
    });
    const endpointSg = new ec2.SecurityGroup(this, 'EndpointSg', {
      vpc: this.vpc,
      description: 'Interface endpoints',
      allowAllOutbound: false,
    });
    endpointSg.addIngressRule(this.archiveSecurityGroup, ec2.Port.tcp(443), 'HTTPS from the archive function');
    Validations.of(endpointSg).acknowledge({
      id: 'AwsSolutions-EC23',
      reason: 'The only ingress rule references the archive function’s security group (the rule cannot evaluate a token).',
    });
    // HTTPS anywhere reaches only VPC endpoints: the subnets have no NAT and no internet gateway.
    // (The gateway endpoints' managed prefix lists need an account lookup, which breaks offline synth.)
    this.archiveSecurityGroup.addEgressRule(ec2.Peer.anyIpv4(), ec2.Port.tcp(443), 'HTTPS to VPC endpoints (S3, DynamoDB, rds-data)');
    this.vpc.addInterfaceEndpoint('RdsData', {
      service: ec2.InterfaceVpcEndpointAwsService.RDS_DATA,
      securityGroups: [endpointSg],
      privateDnsEnabled: true,
      subnets: { subnets: this.vpc.isolatedSubnets.slice(0, config.interfaceEndpointAzs) },
    });

    // ------------------------------------------------------------------ Valkey (checkpoints)
    const cacheSg = new ec2.SecurityGroup(this, 'CacheSg', {
      vpc: this.vpc,
      description: 'Valkey: the archive function only',
      allowAllOutbound: false,
    });
    cacheSg.addIngressRule(this.archiveSecurityGroup, ec2.Port.tcpRange(6379, 6380), 'Valkey (TLS) from the archive function');
    this.archiveSecurityGroup.addEgressRule(cacheSg, ec2.Port.tcpRange(6379, 6380), 'Valkey (TLS)');
    const defaultUser = new elasticache.CfnUser(this, 'CacheDefaultUser', {
      engine: 'valkey',
      userId: `${prefix}-default`,
      userName: 'default',
      accessString: 'off -@all',
      authenticationMode: { Type: 'no-password-required' },
    });
    // IAM authentication requires userName === userId.
    this.archiveCacheUser = new elasticache.CfnUser(this, 'CacheArchiveUser', {
      engine: 'valkey',
      userId: `${prefix}-archive`,
      userName: `${prefix}-archive`,
      // Exactly the key families and commands the archive sends (lambdas/archive/acl.ts; tested under that ACL).
      accessString: archiveAccessString(),
      authenticationMode: { Type: 'iam' },
    });
    // An erasure reads and compare-and-deletes a subject's checkpoints: the archive's own key families
    // and commands (lambdas/archive/acl.ts), under its own user so each function's access is its own.
    this.privacyCacheUser = new elasticache.CfnUser(this, 'CachePrivacyUser', {
      engine: 'valkey',
      userId: `${prefix}-privacy`,
      userName: `${prefix}-privacy`,
      accessString: archiveAccessString(),
      authenticationMode: { Type: 'iam' },
    });
    const userGroup = new elasticache.CfnUserGroup(this, 'CacheUserGroup', {
      engine: 'valkey',
      userGroupId: `${prefix}-users`,
      userIds: [defaultUser.userId, this.archiveCacheUser.userId, this.privacyCacheUser.userId],
    });
    userGroup.addResourceDependency(defaultUser);
    userGroup.addResourceDependency(this.archiveCacheUser);
    userGroup.addResourceDependency(this.privacyCacheUser);
    this.cache = new elasticache.CfnServerlessCache(this, 'Checkpoints', {
      engine: 'valkey',
      majorEngineVersion: '8',
      serverlessCacheName: `${prefix}-checkpoints`,
      description: 'LangGraph checkpoints (24 h TTL); archived hourly to Aurora',
      securityGroupIds: [cacheSg.securityGroupId],
      subnetIds: this.vpc.isolatedSubnets.map((s) => s.subnetId),
      userGroupId: userGroup.userGroupId,
      cacheUsageLimits: {
        dataStorage: { maximum: config.valkey.maxDataStorageGb, unit: 'GB' },
        ecpuPerSecond: { maximum: config.valkey.maxEcpuPerSecond },
      },
      snapshotRetentionLimit: config.retainData ? 7 : 0,
    });
    this.cache.addResourceDependency(userGroup);

    // ------------------------------------------------------------------ Aurora Serverless v2, PostgreSQL 17, Data API
    const dbSg = new ec2.SecurityGroup(this, 'DatabaseSg', {
      vpc: this.vpc,
      description: 'Aurora: no network ingress; reached through the RDS Data API',
      allowAllOutbound: false,
    });
    this.cluster = new rds.DatabaseCluster(this, 'Database', {
      engine: rds.DatabaseClusterEngine.auroraPostgres({ version: rds.AuroraPostgresEngineVersion.VER_17_9 }),
      writer: rds.ClusterInstance.serverlessV2('writer', { autoMinorVersionUpgrade: true }),
      serverlessV2MinCapacity: config.aurora.minCapacityAcu,
      serverlessV2MaxCapacity: config.aurora.maxCapacityAcu,
      ...(config.aurora.minCapacityAcu === 0 ? { serverlessV2AutoPauseDuration: Duration.seconds(config.aurora.autoPauseSeconds) } : {}),
      enableDataApi: true,
      defaultDatabaseName: config.aurora.databaseName,
      credentials: rds.Credentials.fromGeneratedSecret('dlc_admin'),
      storageEncrypted: true,
      iamAuthentication: true,
      vpc: this.vpc,
      vpcSubnets: { subnetType: ec2.SubnetType.PRIVATE_ISOLATED },
      securityGroups: [dbSg],
      backup: { retention: Duration.days(config.aurora.backupRetentionDays), preferredWindow: '02:00-03:00' },
      deletionProtection: config.aurora.deletionProtection,
      removalPolicy: config.retainData ? RemovalPolicy.SNAPSHOT : RemovalPolicy.DESTROY,
      clusterIdentifier: `${prefix}-db`,
      cloudwatchLogsExports: ['postgresql'],
    });
    // The exported log group, created here with a retention (instead of the LogRetention
    // singleton function, which needs wildcard permissions).
    new logs.LogGroup(this, 'DatabaseLogs', {
      logGroupName: `/aws/rds/cluster/${prefix}-db/postgresql`,
      retention: logs.RetentionDays.ONE_MONTH,
      removalPolicy,
    });
    Validations.of(this.cluster).acknowledge({
      id: 'AwsSolutions-RDS11',
      reason:
        'No network path reaches the database (no ingress rule): the Data API is the only client, so a non-default port adds nothing.',
    });
    const secret = this.cluster.node.tryFindChild('Secret');
    // The master and role secrets hold the only copy of the database passwords: kept with the data.
    if (secret instanceof rds.DatabaseSecret) secret.applyRemovalPolicy(removalPolicy);
    if (secret) {
      Validations.of(secret).acknowledge({
        id: 'AwsSolutions-SMG4',
        reason:
          'Rotation needs a rotation Lambda inside this NAT-less VPC plus a Secrets Manager interface endpoint (~7 USD/month per AZ); the secret is only read by the Data API. Rotate with `aws secretsmanager rotate-secret` during maintenance (runbook).',
      });
    }
    // One secret per database role (the registry): each job's Data API calls use its role's secret;
    // the migration function sets each role's password from it (lambdas/shared/db-role-reconcile.ts).
    const roleSecrets: Record<string, rds.DatabaseSecret> = {};
    for (const role of DB_ROLES) {
      const s = new rds.DatabaseSecret(this, `DbRoleSecret_${role.name}`, {
        username: role.name,
        secretName: `${prefix}/db/${role.name}`,
      });
      s.applyRemovalPolicy(removalPolicy);
      Validations.of(s).acknowledge({
        id: 'AwsSolutions-SMG4',
        reason:
          'Same as the master secret: rotation needs a rotation Lambda in this NAT-less VPC. Rotate by putting a new password in the secret and redeploying (the migration function sets it; runbook).',
      });
      roleSecrets[role.name] = s;
    }
    this.roleSecrets = roleSecrets;
    if (!config.aurora.deletionProtection) {
      Validations.of(this.cluster).acknowledge({
        id: 'AwsSolutions-RDS10',
        reason: `${config.name} is disposable; prod has deletion protection (validated in config).`,
      });
    }

    // ------------------------------------------------------------------ cold storage
    this.coldKey = new kms.Key(this, 'ColdStorageKey', {
      enableKeyRotation: true,
      description: `${prefix} cold storage`,
      removalPolicy: config.retainData ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY,
    });
    const accessLogs = new s3.Bucket(this, 'AccessLogs', {
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      enforceSSL: true,
      encryption: s3.BucketEncryption.S3_MANAGED, // server access logs cannot be delivered to SSE-KMS buckets
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_PREFERRED,
      lifecycleRules: [{ expiration: Duration.days(365) }],
      removalPolicy,
      autoDeleteObjects: !config.retainData,
    });
    Validations.of(accessLogs).acknowledge({
      id: 'AwsSolutions-S1',
      reason: 'This is the access-log bucket itself; logging it to itself would loop.',
    });
    this.coldBucket = new s3.Bucket(this, 'ColdStorage', {
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      enforceSSL: true,
      encryption: s3.BucketEncryption.KMS,
      encryptionKey: this.coldKey,
      bucketKeyEnabled: true,
      versioned: true,
      serverAccessLogsBucket: accessLogs,
      serverAccessLogsPrefix: 'cold-storage/',
      lifecycleRules: [
        {
          id: 'tiering',
          // Glacier Instant Retrieval only: read in milliseconds by GetObject, so restore and Athena read every
          // object whatever its age. No Flexible Retrieval / Deep Archive: restore would fail with
          // InvalidObjectState and Athena would leave those objects out of every query (docs/decisions.md).
          transitions: [{ storageClass: s3.StorageClass.GLACIER_INSTANT_RETRIEVAL, transitionAfter: Duration.days(30) }],
          noncurrentVersionExpiration: Duration.days(30),
        },
      ],
      removalPolicy,
      autoDeleteObjects: !config.retainData,
    });

    // ------------------------------------------------------------------ run ledger
    this.ledger = new dynamodb.TableV2(this, 'RunLedger', {
      partitionKey: { name: 'pk', type: dynamodb.AttributeType.STRING },
      sortKey: { name: 'sk', type: dynamodb.AttributeType.STRING },
      billing: dynamodb.Billing.onDemand(),
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      timeToLiveAttribute: 'expiresAt',
      removalPolicy,
    });

    // ------------------------------------------------------------------ paging
    this.alarmTopic = new sns.Topic(this, 'Alarms', {
      displayName: `${prefix} alarms`,
      enforceSSL: true,
      masterKey: new kms.Key(this, 'AlarmTopicKey', { enableKeyRotation: true, description: `${prefix} alarm topic` }),
    });
    for (const email of config.alarms.emails) this.alarmTopic.addSubscription(new subs.EmailSubscription(email));
    for (const url of config.alarms.httpsEndpoints)
      this.alarmTopic.addSubscription(new subs.UrlSubscription(url, { protocol: sns.SubscriptionProtocol.HTTPS }));
  }
}
