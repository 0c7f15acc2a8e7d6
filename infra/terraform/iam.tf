# The instance's role: read the image bucket, decrypt and make data keys
# with the KMS key (which the key policy allows only to the attested
# enclave, through a Recipient), write its own log groups (the daemons'
# logs, and the metrics in embedded metric format, which CloudWatch turns
# into metrics: no cloudwatch:PutMetricData). Nothing else. The parent
# hands the role's credentials to the enclave (glassbox-parent
# --credentials); without an attestation they open nothing.
data "aws_iam_policy_document" "assume" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["ec2.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "instance" {
  name               = "${local.name}-instance"
  assume_role_policy = data.aws_iam_policy_document.assume.json
}

data "aws_iam_policy_document" "instance" {
  statement {
    sid       = "ReadImages"
    actions   = ["s3:GetObject"]
    resources = ["${aws_s3_bucket.images.arn}/*"]
  }
  statement {
    sid       = "ListImages"
    actions   = ["s3:ListBucket"]
    resources = [aws_s3_bucket.images.arn]
  }
  statement {
    sid       = "DecryptInTheEnclave"
    actions   = ["kms:Decrypt", "kms:GenerateDataKey"]
    resources = [aws_kms_key.enclave.arn]
  }
  statement {
    sid       = "Logs"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams"]
    resources = ["${aws_cloudwatch_log_group.instance.arn}:*", "${aws_cloudwatch_log_group.metrics.arn}:*"]
  }
}

resource "aws_iam_role_policy" "instance" {
  name   = "${local.name}-instance"
  role   = aws_iam_role.instance.id
  policy = data.aws_iam_policy_document.instance.json
}

resource "aws_iam_instance_profile" "instance" {
  name = "${local.name}-instance"
  role = aws_iam_role.instance.name
}

resource "aws_cloudwatch_log_group" "instance" {
  name              = "/${local.name}/instance"
  retention_in_days = var.log_retention_days
}

# The CloudWatch agent's embedded-metric-format events (infra/cloudwatch):
# CloudWatch makes the metrics of the namespace Glassbox from them.
resource "aws_cloudwatch_log_group" "metrics" {
  name              = "/${local.name}/metrics"
  retention_in_days = var.metrics_log_retention_days
}
