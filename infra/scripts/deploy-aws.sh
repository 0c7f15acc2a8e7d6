#!/usr/bin/env bash
# The seeds' AWS CLI steps, in one script, for those who do not use
# Terraform (infra/terraform builds the same): a VPC with a public subnet,
# internet gateway and routes; a security group (SSH from one range, the
# bridge and verifier ports); the instance role (read the image bucket,
# KMS decrypt and data keys, its log groups) and instance profile; the
# image bucket (versioned, encrypted, never public, HTTPS only); the KMS key
# (rotation on, policy from `glassbox kms-policy` for published releases);
# a CloudTrail trail that records every KMS call (Decrypt included) in a
# bucket of its own; the log groups (the daemons' logs, the metrics) and
# the CloudWatch alarms (enclave down, verifier not ready, log damaged:
# infra/terraform/alarms.tf); and the enclave-enabled instance (IMDSv2
# only, encrypted root volume) whose user data runs setup-parent.sh from
# the bucket.
#
# usage: deploy-aws.sh --ssh-cidr CIDR --release ID --db REGISTRY [options]
#   --ssh-cidr CIDR     the only range SSH is open to (not 0.0.0.0/0)
#   --release ID        a published release the KMS key trusts (repeat it
#                       for a rollover window: old and new)
#   --db PATH           the registry that holds it
#   --name NAME         resource name prefix (default glassbox)
#   --eif FILE          upload this enclave image as enclaves/app.eif
#   --dist FILE         upload this Glassbox source tarball (default: git
#                       archive of this checkout)
#   --ami ID            parent AMI (default: latest Amazon Linux 2023, SSM)
#   --instance-type T   default c6a.xlarge
#   --key-name NAME     EC2 key pair for SSH (default none)
#   --bridge-port P     default 6300;  --bridge-cidr CIDR (repeatable)
#   --verifier-port P   default 443;   --verifier-cidr CIDR (default 0.0.0.0/0)
#   --enclave-cpus N    default 2;     --enclave-mib MIB (default 2048)
#   --alarm-action ARN  an SNS topic the alarms notify (repeatable)
#   --state FILE        where the created IDs are written (default
#                       ./glassbox-aws-NAME.env); refuses to overwrite one
# The region and credentials come from the AWS CLI's usual environment
# (AWS_REGION / AWS_DEFAULT_REGION, AWS_PROFILE, ...; AWS_ENDPOINT_URL for
# a test endpoint). Needs aws, jq and glassbox (or GLASSBOX=path).
set -euo pipefail

usage() {
  sed -n '2,/^set -euo/p' "$0" | sed -e '/^set -euo/d' -e 's/^# \{0,1\}//' >&2
  exit 2
}

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
name=glassbox ssh="" db="" eif="" dist="" ami="" key=""
itype=c6a.xlarge bport=6300 vport=443 cpus=2 mib=2048 state=""
bcidrs=() vcidrs=() releases=() actions=()
while [ $# -gt 0 ]; do
  case $1 in
    --ssh-cidr) ssh=$2; shift 2 ;;
    --release) releases+=(--release "$2"); shift 2 ;;
    --db) db=$2; shift 2 ;;
    --name) name=$2; shift 2 ;;
    --eif) eif=$2; shift 2 ;;
    --dist) dist=$2; shift 2 ;;
    --ami) ami=$2; shift 2 ;;
    --instance-type) itype=$2; shift 2 ;;
    --key-name) key=$2; shift 2 ;;
    --bridge-port) bport=$2; shift 2 ;;
    --bridge-cidr) bcidrs+=("$2"); shift 2 ;;
    --verifier-port) vport=$2; shift 2 ;;
    --verifier-cidr) vcidrs+=("$2"); shift 2 ;;
    --enclave-cpus) cpus=$2; shift 2 ;;
    --enclave-mib) mib=$2; shift 2 ;;
    --alarm-action) actions+=("$2"); shift 2 ;;
    --state) state=$2; shift 2 ;;
    -h|--help) usage ;;
    *) echo "deploy-aws: unknown argument $1" >&2; usage ;;
  esac
done
if [ -z "$ssh" ] || [ ${#releases[@]} -eq 0 ] || [ -z "$db" ]; then
  usage
fi
case $ssh in
  0.0.0.0/0|::/0) echo "deploy-aws: --ssh-cidr must not be the whole Internet" >&2; exit 2 ;;
  */*) ;;
  *) echo "deploy-aws: --ssh-cidr is a CIDR range (203.0.113.7/32)" >&2; exit 2 ;;
esac
case $name in
  [a-z]*) ;;
  *) echo "deploy-aws: --name starts with a lower-case letter" >&2; exit 2 ;;
esac
[ ${#vcidrs[@]} -gt 0 ] || vcidrs=(0.0.0.0/0)
glassbox=${GLASSBOX:-glassbox}
for tool in aws jq "$glassbox"; do
  command -v "$tool" >/dev/null || { echo "deploy-aws: $tool is not installed" >&2; exit 2; }
done
region=${AWS_REGION:-${AWS_DEFAULT_REGION:-$(aws configure get region || true)}}
[ -n "$region" ] || { echo "deploy-aws: set AWS_REGION" >&2; exit 2; }
state=${state:-./glassbox-aws-$name.env}
[ -e "$state" ] && { echo "deploy-aws: $state exists: this deployment was made already" >&2; exit 2; }
# The releases must be admissible before anything is created.
"$glassbox" kms-policy --db "$db" "${releases[@]}" --tfvars >/dev/null

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
step() { echo "deploy-aws: $*"; }
record() { echo "$1=$2" >>"$state"; }
tags() { echo "ResourceType=$1,Tags=[{Key=Name,Value=$name-$2},{Key=Project,Value=glassbox}]"; }
: >"$state"
chmod 600 "$state"
record REGION "$region"

account=$(aws sts get-caller-identity --query Account --output text)
partition=$(aws sts get-caller-identity --query Arn --output text | cut -d: -f2)
record ACCOUNT "$account"

step "network"
vpc=$(aws ec2 create-vpc --cidr-block 10.0.0.0/16 \
  --tag-specifications "$(tags vpc vpc)" --query Vpc.VpcId --output text)
record VPC_ID "$vpc"
aws ec2 modify-vpc-attribute --vpc-id "$vpc" --enable-dns-support '{"Value":true}'
aws ec2 modify-vpc-attribute --vpc-id "$vpc" --enable-dns-hostnames '{"Value":true}'
az=$(aws ec2 describe-availability-zones --filters Name=state,Values=available \
  --query 'AvailabilityZones[0].ZoneName' --output text)
subnet=$(aws ec2 create-subnet --vpc-id "$vpc" --cidr-block 10.0.1.0/24 \
  --availability-zone "$az" --tag-specifications "$(tags subnet public)" \
  --query Subnet.SubnetId --output text)
record SUBNET_ID "$subnet"
aws ec2 modify-subnet-attribute --subnet-id "$subnet" --map-public-ip-on-launch
igw=$(aws ec2 create-internet-gateway --tag-specifications "$(tags internet-gateway igw)" \
  --query InternetGateway.InternetGatewayId --output text)
record IGW_ID "$igw"
aws ec2 attach-internet-gateway --internet-gateway-id "$igw" --vpc-id "$vpc"
rtb=$(aws ec2 create-route-table --vpc-id "$vpc" --tag-specifications "$(tags route-table public)" \
  --query RouteTable.RouteTableId --output text)
record ROUTE_TABLE_ID "$rtb"
aws ec2 create-route --route-table-id "$rtb" --destination-cidr-block 0.0.0.0/0 \
  --gateway-id "$igw" >/dev/null
aws ec2 associate-route-table --route-table-id "$rtb" --subnet-id "$subnet" >/dev/null

step "security group"
sg=$(aws ec2 create-security-group --group-name "$name-instance" --vpc-id "$vpc" \
  --description "Glassbox parent instance" --tag-specifications "$(tags security-group instance)" \
  --query GroupId --output text)
record SECURITY_GROUP_ID "$sg"
ingress() {
  aws ec2 authorize-security-group-ingress --group-id "$sg" --ip-permissions \
    "IpProtocol=tcp,FromPort=$1,ToPort=$1,IpRanges=[{CidrIp=$2,Description=$3}]" >/dev/null
}
ingress 22 "$ssh" "SSH from the operators"
for c in "${bcidrs[@]}"; do ingress "$bport" "$c" "glassbox-parent bridge"; done
for c in "${vcidrs[@]}"; do ingress "$vport" "$c" "glassbox-verifier over TLS"; done
# Out: HTTPS only (S3, KMS, CloudWatch, packages), instead of everything.
aws ec2 revoke-security-group-egress --group-id "$sg" --ip-permissions \
  'IpProtocol=-1,IpRanges=[{CidrIp=0.0.0.0/0}]' >/dev/null
aws ec2 authorize-security-group-egress --group-id "$sg" --ip-permissions \
  'IpProtocol=tcp,FromPort=443,ToPort=443,IpRanges=[{CidrIp=0.0.0.0/0,Description=HTTPS out}]' >/dev/null

step "image bucket"
bucket=$name-images-$account-$region
if [ "$region" = us-east-1 ]; then
  aws s3api create-bucket --bucket "$bucket" >/dev/null
else
  aws s3api create-bucket --bucket "$bucket" \
    --create-bucket-configuration "LocationConstraint=$region" >/dev/null
fi
record BUCKET "$bucket"
aws s3api put-public-access-block --bucket "$bucket" --public-access-block-configuration \
  BlockPublicAcls=true,IgnorePublicAcls=true,BlockPublicPolicy=true,RestrictPublicBuckets=true
aws s3api put-bucket-versioning --bucket "$bucket" --versioning-configuration Status=Enabled
aws s3api put-bucket-encryption --bucket "$bucket" --server-side-encryption-configuration \
  '{"Rules":[{"ApplyServerSideEncryptionByDefault":{"SSEAlgorithm":"AES256"}}]}'

step "log groups"
logs=/$name/instance
aws logs create-log-group --log-group-name "$logs"
aws logs put-retention-policy --log-group-name "$logs" --retention-in-days 90
record LOG_GROUP "$logs"
mlogs=/$name/metrics
aws logs create-log-group --log-group-name "$mlogs"
aws logs put-retention-policy --log-group-name "$mlogs" --retention-in-days 7
record METRICS_LOG_GROUP "$mlogs"

step "alarms"
# As infra/terraform/alarms.tf: one-minute periods, three in a row.
alarm() {   # alarm KEY METRIC STATISTIC COMPARISON MISSING DESCRIPTION
  local act=()
  [ ${#actions[@]} -gt 0 ] && act=(--alarm-actions "${actions[@]}" --ok-actions "${actions[@]}")
  aws cloudwatch put-metric-alarm --alarm-name "$name-$1" --alarm-description "$6" \
    --namespace Glassbox --metric-name "$2" --dimensions "Name=Deployment,Value=$name" \
    --statistic "$3" --period 60 --evaluation-periods 3 --datapoints-to-alarm 3 \
    --comparison-operator "$4" --threshold 1 --treat-missing-data "$5" "${act[@]}"
}
alarm enclave-down EnclaveRunning Minimum LessThanThreshold breaching \
  "The enclave is not RUNNING (nitro-cli describe-enclaves through glassbox-parent), or nothing reports it."
alarm verifier-not-ready glassbox_ready Minimum LessThanThreshold breaching \
  "glassbox-verifier's /readyz is not 200 (first audit pending, registry unreadable, checkpoint and tree disagree, or log damaged), or nothing reports it."
alarm log-damaged glassbox_log_damaged Maximum GreaterThanOrEqualToThreshold notBreaching \
  "The verifier's log watch found the transparency log damaged or rolled back (/readyz: log_damaged); verify answers 503 until it is repaired."
record ALARMS "$name-enclave-down,$name-verifier-not-ready,$name-log-damaged"

step "KMS key"
kms=$(aws kms create-key --description "$name: decrypt only in the released enclave" \
  --key-usage ENCRYPT_DECRYPT --query KeyMetadata.Arn --output text)
record KMS_KEY_ARN "$kms"
aws kms enable-key-rotation --key-id "$kms"
aws kms create-alias --alias-name "alias/$name-enclave" --target-key-id "$kms"

step "instance role"
role=$name-instance
jq -n '{Version: "2012-10-17", Statement: [{Effect: "Allow",
    Principal: {Service: "ec2.amazonaws.com"}, Action: "sts:AssumeRole"}]}' >"$tmp/assume.json"
role_arn=$(aws iam create-role --role-name "$role" \
  --assume-role-policy-document "file://$tmp/assume.json" --query Role.Arn --output text)
record ROLE_ARN "$role_arn"
jq -n --arg b "arn:$partition:s3:::$bucket" --arg k "$kms" \
  --arg l "arn:$partition:logs:$region:$account:log-group:$logs:*" \
  --arg m "arn:$partition:logs:$region:$account:log-group:$mlogs:*" '{
    Version: "2012-10-17", Statement: [
      {Sid: "ReadImages", Effect: "Allow", Action: "s3:GetObject", Resource: "\($b)/*"},
      {Sid: "ListImages", Effect: "Allow", Action: "s3:ListBucket", Resource: $b},
      {Sid: "DecryptInTheEnclave", Effect: "Allow",
       Action: ["kms:Decrypt", "kms:GenerateDataKey"], Resource: $k},
      {Sid: "Logs", Effect: "Allow", Resource: [$l, $m],
       Action: ["logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams"]}]}' \
  >"$tmp/role-policy.json"
aws iam put-role-policy --role-name "$role" --policy-name "$role" \
  --policy-document "file://$tmp/role-policy.json"
aws iam create-instance-profile --instance-profile-name "$role" >/dev/null
aws iam add-role-to-instance-profile --instance-profile-name "$role" --role-name "$role"
record INSTANCE_PROFILE "$role"

# Now that the role exists: decrypt only in the released enclaves.
"$glassbox" kms-policy --db "$db" "${releases[@]}" --role-arn "$role_arn" >"$tmp/key-policy.json"
aws kms put-key-policy --key-id "$kms" --policy-name default \
  --policy "file://$tmp/key-policy.json"

step "CloudTrail: every KMS call on the key"
# KMS's Decrypt and GenerateDataKey are read-only management events: the
# trail logs all management events and excludes no event source.
trail=$name-kms
trail_bucket=$name-trail-$account-$region
if [ "$region" = us-east-1 ]; then
  aws s3api create-bucket --bucket "$trail_bucket" >/dev/null
else
  aws s3api create-bucket --bucket "$trail_bucket" \
    --create-bucket-configuration "LocationConstraint=$region" >/dev/null
fi
record TRAIL_BUCKET "$trail_bucket"
aws s3api put-public-access-block --bucket "$trail_bucket" --public-access-block-configuration \
  BlockPublicAcls=true,IgnorePublicAcls=true,BlockPublicPolicy=true,RestrictPublicBuckets=true
aws s3api put-bucket-encryption --bucket "$trail_bucket" --server-side-encryption-configuration \
  '{"Rules":[{"ApplyServerSideEncryptionByDefault":{"SSEAlgorithm":"AES256"}}]}'
jq -n --arg b "arn:$partition:s3:::$trail_bucket" --arg a "$account" \
  --arg t "arn:$partition:cloudtrail:$region:$account:trail/$trail" '{
    Version: "2012-10-17", Statement: [
      {Sid: "CloudTrailAclCheck", Effect: "Allow", Principal: {Service: "cloudtrail.amazonaws.com"},
       Action: "s3:GetBucketAcl", Resource: $b, Condition: {StringEquals: {"aws:SourceArn": $t}}},
      {Sid: "CloudTrailWrite", Effect: "Allow", Principal: {Service: "cloudtrail.amazonaws.com"},
       Action: "s3:PutObject", Resource: "\($b)/AWSLogs/\($a)/*",
       Condition: {StringEquals: {"s3:x-amz-acl": "bucket-owner-full-control", "aws:SourceArn": $t}}}]}' \
  >"$tmp/trail-policy.json"
aws s3api put-bucket-policy --bucket "$trail_bucket" --policy "file://$tmp/trail-policy.json"
aws cloudtrail create-trail --name "$trail" --s3-bucket-name "$trail_bucket" \
  --include-global-service-events --enable-log-file-validation >/dev/null
aws cloudtrail put-event-selectors --trail-name "$trail" \
  --event-selectors '[{"ReadWriteType":"All","IncludeManagementEvents":true}]' >/dev/null
aws cloudtrail start-logging --name "$trail"
record TRAIL "$trail"

step "bootstrap files"
if [ -z "$dist" ]; then
  dist=$tmp/glassbox-dist.tar.gz
  git -C "$repo" archive --format=tar.gz -o "$dist" HEAD
fi
aws s3 cp --only-show-errors "$dist" "s3://$bucket/bootstrap/glassbox-dist.tar.gz"
aws s3 cp --only-show-errors "$here/setup-parent.sh" "s3://$bucket/bootstrap/setup-parent.sh"
if [ -n "$eif" ]; then
  aws s3 cp --only-show-errors "$eif" "s3://$bucket/enclaves/app.eif"
fi
# HTTPS only, from now on. (Set after the uploads: moto, the test's
# stand-in for AWS, wrongly denies every request under a conditioned Deny.)
jq -n --arg b "arn:$partition:s3:::$bucket" '{Version: "2012-10-17", Statement: [{
    Sid: "HttpsOnly", Effect: "Deny", Principal: "*", Action: "s3:*",
    Resource: [$b, "\($b)/*"],
    Condition: {Bool: {"aws:SecureTransport": "false"}}}]}' >"$tmp/bucket-policy.json"
aws s3api put-bucket-policy --bucket "$bucket" --policy "file://$tmp/bucket-policy.json"

step "instance"
if [ -z "$ami" ]; then
  ami=$(aws ssm get-parameter --name /aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64 \
    --query Parameter.Value --output text)
fi
root=$(aws ec2 describe-images --image-ids "$ami" --query 'Images[0].RootDeviceName' --output text)
# The user data is Terraform's template, rendered the same way.
sed -e "s|\${region}|$region|g" -e "s|\${bucket}|$bucket|g" \
  -e "s|\${enclave_cpus}|$cpus|g" -e "s|\${enclave_mib}|$mib|g" \
  -e "s|\${bridge_port}|$bport|g" -e "s|\${log_group}|$logs|g" \
  -e "s|\${metrics_log_group}|$mlogs|g" -e "s|\${name}|$name|g" -e 's|\$\${|${|g' \
  "$here/../terraform/user-data.sh.tftpl" >"$tmp/user-data.sh"
keyopt=()
[ -n "$key" ] && keyopt=(--key-name "$key")
# A new instance profile takes a few seconds to be usable by EC2.
for try in 1 2 3 4 5 6; do
  if instance=$(aws ec2 run-instances --image-id "$ami" --instance-type "$itype" \
      --subnet-id "$subnet" --security-group-ids "$sg" \
      --iam-instance-profile "Name=$role" "${keyopt[@]}" \
      --enclave-options Enabled=true \
      --metadata-options HttpTokens=required,HttpEndpoint=enabled,HttpPutResponseHopLimit=1 \
      --block-device-mappings "DeviceName=$root,Ebs={Encrypted=true,VolumeType=gp3,VolumeSize=30,DeleteOnTermination=true}" \
      --user-data "file://$tmp/user-data.sh" \
      --tag-specifications "$(tags instance parent)" \
      --query 'Instances[0].InstanceId' --output text 2>"$tmp/run.err"); then
    break
  fi
  if [ "$try" -eq 6 ] || ! grep -q 'Invalid IAM Instance Profile' "$tmp/run.err"; then
    cat "$tmp/run.err" >&2
    exit 1
  fi
  sleep 10
done
record INSTANCE_ID "$instance"

step "done; IDs are in $state"
cat "$state"
