# The replicated form (var.replicas >= 1; docs/deploy.md "10. The
# replicated form"), part one: the log's static tiles (C2SP tlog-tiles,
# docs/registry.md "Tiles") in a private bucket, served by CloudFront.
#
# The primary's registry writes the tiles into /var/lib/glassbox/tiles
# after every change; glassbox-tiles-sync (infra/systemd, a path unit and
# a timer running infra/scripts/sync-tiles.sh) copies them under
# var.tiles_prefix: tiles first, the checkpoint last, each kind with its
# Cache-Control. The replicas (replicas.tf) and anyone else read them
# through the distribution, never from the bucket: only the distribution
# may read it (origin access control), only the primary's role may write
# it, and only under the prefix.
locals {
  replicated   = var.replicas > 0
  tiles_prefix = var.tiles_prefix
  # Cache lifetimes, in seconds. A full tile or entry bundle never changes
  # (the registry refuses to write different bytes under its name), so a
  # year, and `immutable`. The checkpoint and partial tiles are replaced
  # (a partial tile's name carries its width, so it is only ever replaced
  # by a wider one under another name, but a reader must see the next
  # checkpoint soon): seconds.
  tiles_ttl_immutable = 31536000
  tiles_ttl_short     = var.tiles_checkpoint_ttl
}

resource "aws_s3_bucket" "tiles" {
  count         = local.replicated ? 1 : 0
  bucket_prefix = "${local.name}-tiles-"
}

resource "aws_s3_bucket_versioning" "tiles" {
  count  = local.replicated ? 1 : 0
  bucket = aws_s3_bucket.tiles[0].id
  versioning_configuration {
    status = "Enabled"
  }
}

resource "aws_s3_bucket_server_side_encryption_configuration" "tiles" {
  count  = local.replicated ? 1 : 0
  bucket = aws_s3_bucket.tiles[0].id
  rule {
    # SSE-S3: CloudFront's origin access control reads it without a KMS
    # key policy; nothing in the tiles is secret, the encryption is at rest.
    apply_server_side_encryption_by_default {
      sse_algorithm = "AES256"
    }
  }
}

resource "aws_s3_bucket_public_access_block" "tiles" {
  count                   = local.replicated ? 1 : 0
  bucket                  = aws_s3_bucket.tiles[0].id
  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_ownership_controls" "tiles" {
  count  = local.replicated ? 1 : 0
  bucket = aws_s3_bucket.tiles[0].id
  rule {
    object_ownership = "BucketOwnerEnforced"
  }
}

# Old versions of the replaced checkpoint pile up (one per change): keep
# them a while (they are the log's history as it was published), then go.
resource "aws_s3_bucket_lifecycle_configuration" "tiles" {
  count  = local.replicated ? 1 : 0
  bucket = aws_s3_bucket.tiles[0].id
  rule {
    id     = "old-versions"
    status = "Enabled"
    filter {}
    noncurrent_version_expiration {
      noncurrent_days = var.tiles_old_versions_days
    }
  }
}

# Read by the distribution only (its ARN as aws:SourceArn), under the
# prefix only; nothing over plain HTTP.
data "aws_iam_policy_document" "tiles" {
  count = local.replicated ? 1 : 0
  statement {
    sid       = "CloudFrontReadsTiles"
    effect    = "Allow"
    actions   = ["s3:GetObject"]
    resources = ["${aws_s3_bucket.tiles[0].arn}/${local.tiles_prefix}/*"]
    principals {
      type        = "Service"
      identifiers = ["cloudfront.amazonaws.com"]
    }
    condition {
      test     = "StringEquals"
      variable = "AWS:SourceArn"
      values   = [aws_cloudfront_distribution.tiles[0].arn]
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
    resources = [aws_s3_bucket.tiles[0].arn, "${aws_s3_bucket.tiles[0].arn}/*"]
    condition {
      test     = "Bool"
      variable = "aws:SecureTransport"
      values   = ["false"]
    }
  }
}

resource "aws_s3_bucket_policy" "tiles" {
  count      = local.replicated ? 1 : 0
  bucket     = aws_s3_bucket.tiles[0].id
  policy     = data.aws_iam_policy_document.tiles[0].json
  depends_on = [aws_s3_bucket_public_access_block.tiles]
}

# The primary (aws_instance.parent, the one writer) may write the tiles and
# list and read under the prefix (sync-tiles.sh lists to compare, and reads
# the published checkpoint to refuse a rollback). No s3:DeleteObject: a
# reader holding an older checkpoint still finds its partial tiles, and
# the primary cannot take published history back (versioning keeps every
# replaced checkpoint).
data "aws_iam_policy_document" "tiles_writer" {
  count = local.replicated ? 1 : 0
  statement {
    sid       = "WriteTiles"
    actions   = ["s3:PutObject", "s3:GetObject"]
    resources = ["${aws_s3_bucket.tiles[0].arn}/${local.tiles_prefix}/*"]
  }
  statement {
    sid       = "ListTiles"
    actions   = ["s3:ListBucket"]
    resources = [aws_s3_bucket.tiles[0].arn]
    condition {
      test     = "StringLike"
      variable = "s3:prefix"
      values   = ["${local.tiles_prefix}/*"]
    }
  }
}

resource "aws_iam_role_policy" "tiles_writer" {
  count  = local.replicated ? 1 : 0
  name   = "${local.name}-tiles-writer"
  role   = aws_iam_role.instance.id
  policy = data.aws_iam_policy_document.tiles_writer[0].json
}

resource "aws_cloudfront_origin_access_control" "tiles" {
  count                             = local.replicated ? 1 : 0
  name                              = "${local.name}-tiles"
  description                       = "CloudFront signs its requests to the tiles bucket"
  origin_access_control_origin_type = "s3"
  signing_behavior                  = "always"
  signing_protocol                  = "sigv4"
}

# Two cache policies: CloudFront keeps an object between min_ttl and
# max_ttl, honouring the Cache-Control the sync gave it; no query string,
# header or cookie is part of the key (the tiles have none), so every
# reader shares one cached copy.
resource "aws_cloudfront_cache_policy" "immutable" {
  count       = local.replicated ? 1 : 0
  name        = "${local.name}-tiles-immutable"
  comment     = "Full tiles and entry bundles: never change"
  min_ttl     = local.tiles_ttl_immutable
  default_ttl = local.tiles_ttl_immutable
  max_ttl     = local.tiles_ttl_immutable
  parameters_in_cache_key_and_forwarded_to_origin {
    enable_accept_encoding_gzip   = false
    enable_accept_encoding_brotli = false
    cookies_config {
      cookie_behavior = "none"
    }
    headers_config {
      header_behavior = "none"
    }
    query_strings_config {
      query_string_behavior = "none"
    }
  }
}

resource "aws_cloudfront_cache_policy" "short" {
  count       = local.replicated ? 1 : 0
  name        = "${local.name}-tiles-short"
  comment     = "The checkpoint and partial tiles: replaced"
  min_ttl     = 0
  default_ttl = local.tiles_ttl_short
  max_ttl     = local.tiles_ttl_short
  parameters_in_cache_key_and_forwarded_to_origin {
    enable_accept_encoding_gzip   = false
    enable_accept_encoding_brotli = false
    cookies_config {
      cookie_behavior = "none"
    }
    headers_config {
      header_behavior = "none"
    }
    query_strings_config {
      query_string_behavior = "none"
    }
  }
}

# The viewer's paths are the tlog-tiles paths (https://DOMAIN/checkpoint,
# /tile/0/000.p/5, ...); origin_path puts them under the prefix. Behaviours
# are matched in order, the first that matches wins: the checkpoint and
# partial tiles (`*.p/*`, a partial tile or bundle of any level) before
# the full ones.
resource "aws_cloudfront_distribution" "tiles" {
  count           = local.replicated ? 1 : 0
  enabled         = true
  comment         = "${local.name}: the transparency log's tiles"
  price_class     = var.tiles_price_class
  http_version    = "http2and3"
  is_ipv6_enabled = true

  origin {
    origin_id                = "tiles"
    domain_name              = aws_s3_bucket.tiles[0].bucket_regional_domain_name
    origin_path              = "/${local.tiles_prefix}"
    origin_access_control_id = aws_cloudfront_origin_access_control.tiles[0].id
  }

  # Anything else (a path that is not a tile) is short-lived too.
  default_cache_behavior {
    target_origin_id       = "tiles"
    viewer_protocol_policy = "https-only"
    allowed_methods        = ["GET", "HEAD"]
    cached_methods         = ["GET", "HEAD"]
    cache_policy_id        = aws_cloudfront_cache_policy.short[0].id
    compress               = false
  }

  ordered_cache_behavior {
    path_pattern           = "/checkpoint"
    target_origin_id       = "tiles"
    viewer_protocol_policy = "https-only"
    allowed_methods        = ["GET", "HEAD"]
    cached_methods         = ["GET", "HEAD"]
    cache_policy_id        = aws_cloudfront_cache_policy.short[0].id
    compress               = false
  }

  ordered_cache_behavior {
    path_pattern           = "/tile/*.p/*"
    target_origin_id       = "tiles"
    viewer_protocol_policy = "https-only"
    allowed_methods        = ["GET", "HEAD"]
    cached_methods         = ["GET", "HEAD"]
    cache_policy_id        = aws_cloudfront_cache_policy.short[0].id
    compress               = false
  }

  ordered_cache_behavior {
    path_pattern           = "/tile/*"
    target_origin_id       = "tiles"
    viewer_protocol_policy = "https-only"
    allowed_methods        = ["GET", "HEAD"]
    cached_methods         = ["GET", "HEAD"]
    cache_policy_id        = aws_cloudfront_cache_policy.immutable[0].id
    compress               = false
  }

  # S3 answers 403 for a key that is not there (the distribution may not
  # list the bucket). Such an answer is kept at most a second, so a tile
  # asked for just before the sync wrote it is not refused for long.
  custom_error_response {
    error_code            = 403
    error_caching_min_ttl = 1
  }
  custom_error_response {
    error_code            = 404
    error_caching_min_ttl = 1
  }

  restrictions {
    geo_restriction {
      restriction_type = "none"
    }
  }

  viewer_certificate {
    cloudfront_default_certificate = true
  }
}
