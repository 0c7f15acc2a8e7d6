# A record of every use of the enclave's KMS key (seed 003's checklist:
# "CloudTrail logging enabled for kms:Decrypt events"). CloudTrail records
# KMS's cryptographic operations (Decrypt, GenerateDataKey) as read-only
# management events; a trail logs them as long as it logs read management
# events and does not exclude the event source kms.amazonaws.com (AWS KMS
# Developer Guide, "Logging AWS KMS API calls with AWS CloudTrail"). With a
# Recipient, each event also carries the attestation's PCRs
# (additionalEventData.recipient), so the log shows which enclave asked.
# The files go to a bucket of their own, with log file validation (a
# signed digest every hour) so that a changed or deleted file shows.
resource "aws_s3_bucket" "trail" {
  count         = var.trail_enabled ? 1 : 0
  bucket_prefix = "${local.name}-trail-"
}

resource "aws_s3_bucket_public_access_block" "trail" {
  count                   = var.trail_enabled ? 1 : 0
  bucket                  = aws_s3_bucket.trail[0].id
  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_server_side_encryption_configuration" "trail" {
  count  = var.trail_enabled ? 1 : 0
  bucket = aws_s3_bucket.trail[0].id
  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm = "AES256"
    }
  }
}

resource "aws_s3_bucket_lifecycle_configuration" "trail" {
  count  = var.trail_enabled ? 1 : 0
  bucket = aws_s3_bucket.trail[0].id
  rule {
    id     = "expire"
    status = "Enabled"
    filter {}
    expiration {
      days = var.trail_retention_days
    }
  }
}

locals {
  trail_name = "${local.name}-kms"
  trail_arn  = "arn:${local.partition}:cloudtrail:${var.region}:${local.account_id}:trail/${local.trail_name}"
}

# CloudTrail may check the bucket's ACL and write under AWSLogs/ACCOUNT/,
# for this trail only (aws:SourceArn); nothing else, and only over HTTPS.
data "aws_iam_policy_document" "trail" {
  count = var.trail_enabled ? 1 : 0
  statement {
    sid       = "CloudTrailAclCheck"
    actions   = ["s3:GetBucketAcl"]
    resources = [aws_s3_bucket.trail[0].arn]
    principals {
      type        = "Service"
      identifiers = ["cloudtrail.amazonaws.com"]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:SourceArn"
      values   = [local.trail_arn]
    }
  }
  statement {
    sid       = "CloudTrailWrite"
    actions   = ["s3:PutObject"]
    resources = ["${aws_s3_bucket.trail[0].arn}/AWSLogs/${local.account_id}/*"]
    principals {
      type        = "Service"
      identifiers = ["cloudtrail.amazonaws.com"]
    }
    condition {
      test     = "StringEquals"
      variable = "s3:x-amz-acl"
      values   = ["bucket-owner-full-control"]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:SourceArn"
      values   = [local.trail_arn]
    }
  }
  statement {
    sid     = "HttpsOnly"
    effect  = "Deny"
    actions = ["s3:*"]
    principals {
      type        = "*"
      identifiers = ["*"]
    }
    resources = [aws_s3_bucket.trail[0].arn, "${aws_s3_bucket.trail[0].arn}/*"]
    condition {
      test     = "Bool"
      variable = "aws:SecureTransport"
      values   = ["false"]
    }
  }
}

resource "aws_s3_bucket_policy" "trail" {
  count      = var.trail_enabled ? 1 : 0
  bucket     = aws_s3_bucket.trail[0].id
  policy     = data.aws_iam_policy_document.trail[0].json
  depends_on = [aws_s3_bucket_public_access_block.trail]
}

resource "aws_cloudtrail" "kms" {
  count                         = var.trail_enabled ? 1 : 0
  name                          = local.trail_name
  s3_bucket_name                = aws_s3_bucket.trail[0].id
  include_global_service_events = true
  is_multi_region_trail         = false
  enable_log_file_validation    = true

  # Management events, read ones included: KMS's Decrypt and
  # GenerateDataKey are read-only management events. Nothing is excluded
  # (exclude_management_event_sources must never hold kms.amazonaws.com).
  event_selector {
    read_write_type           = "All"
    include_management_events = true
  }

  depends_on = [aws_s3_bucket_policy.trail]
}
