# Enclave images and the parent's bootstrap: versioned, encrypted, never
# public, HTTPS only.
resource "aws_s3_bucket" "images" {
  bucket_prefix = "${local.name}-images-"
}

resource "aws_s3_bucket_versioning" "images" {
  bucket = aws_s3_bucket.images.id
  versioning_configuration {
    status = "Enabled"
  }
}

resource "aws_s3_bucket_server_side_encryption_configuration" "images" {
  bucket = aws_s3_bucket.images.id
  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm = "AES256"
    }
  }
}

resource "aws_s3_bucket_public_access_block" "images" {
  bucket                  = aws_s3_bucket.images.id
  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_ownership_controls" "images" {
  bucket = aws_s3_bucket.images.id
  rule {
    object_ownership = "BucketOwnerEnforced"
  }
}

data "aws_iam_policy_document" "images" {
  statement {
    sid     = "HttpsOnly"
    effect  = "Deny"
    actions = ["s3:*"]
    principals {
      type        = "*"
      identifiers = ["*"]
    }
    resources = [aws_s3_bucket.images.arn, "${aws_s3_bucket.images.arn}/*"]
    condition {
      test     = "Bool"
      variable = "aws:SecureTransport"
      values   = ["false"]
    }
  }
}

resource "aws_s3_bucket_policy" "images" {
  bucket     = aws_s3_bucket.images.id
  policy     = data.aws_iam_policy_document.images.json
  depends_on = [aws_s3_bucket_public_access_block.images]
}

# The parent's bootstrap (and the first enclave image), in place before the
# instance boots: its user data fetches them.
resource "aws_s3_object" "setup" {
  bucket = aws_s3_bucket.images.id
  key    = "bootstrap/setup-parent.sh"
  source = "${path.module}/../scripts/setup-parent.sh"
  etag   = filemd5("${path.module}/../scripts/setup-parent.sh")
}

resource "aws_s3_object" "dist" {
  bucket = aws_s3_bucket.images.id
  key    = "bootstrap/glassbox-dist.tar.gz"
  source = var.dist_file
  etag   = filemd5(var.dist_file)
}

resource "aws_s3_object" "eif" {
  count  = var.eif_file == null ? 0 : 1
  bucket = aws_s3_bucket.images.id
  key    = "enclaves/app.eif"
  source = var.eif_file
  etag   = filemd5(var.eif_file)
}
