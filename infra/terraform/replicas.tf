# The replicated form (var.replicas >= 1; docs/deploy.md "10. The
# replicated form"), part two: an internet-facing Application Load
# Balancer (TLS with an ACM certificate) in front of an autoscaling group
# of verifier replicas, each `glassbox-verifier --mirror
# https://CLOUDFRONT_DOMAIN/` (docs/verifier.md "Mirror") following the
# tiles of tiles.tf. The writes (POST /api/v1/releases and
# /api/v1/releases/ID/revoke) go to the primary (aws_instance.parent,
# through its nginx); everything else to the replicas. A replica is in
# service only while its /readyz is 200 (a verified copy of the log,
# audited).
#
# The shared challenge key (docs/verifier.md "Challenges") is one Secrets
# Manager secret, written once from the primary's key; each replica reads
# it at boot. The used-nonce store stays per host (SQLite): the replicas'
# target group is sticky (a load-balancer cookie for var.nonce_ttl
# seconds), so a client's challenge and its verify reach the same replica,
# whose store refuses the nonce's second use. docs/capacity.md has the
# sizes, docs/deploy.md what a store shared by every host would need.

# The ALB needs two availability zones; the replicas live in the same two
# public subnets (a public address each for their way out to CloudFront
# and Secrets Manager, no NAT gateway; their security group lets in only
# the load balancer).
resource "aws_subnet" "replicas" {
  count                   = local.replicated ? length(var.replica_subnet_cidrs) : 0
  vpc_id                  = aws_vpc.main.id
  cidr_block              = var.replica_subnet_cidrs[count.index]
  availability_zone       = data.aws_availability_zones.available.names[count.index]
  map_public_ip_on_launch = true
  tags                    = { Name = "${local.name}-replicas-${count.index}" }
}

resource "aws_route_table_association" "replicas" {
  count          = local.replicated ? length(var.replica_subnet_cidrs) : 0
  subnet_id      = aws_subnet.replicas[count.index].id
  route_table_id = aws_route_table.public.id
}

# --- security groups: clients -> ALB:443 -> replicas:verifier port, primary:443
resource "aws_security_group" "alb" {
  count       = local.replicated ? 1 : 0
  name        = "${local.name}-alb"
  description = "Glassbox load balancer"
  vpc_id      = aws_vpc.main.id
  tags        = { Name = "${local.name}-alb" }
}

resource "aws_vpc_security_group_ingress_rule" "alb_https" {
  for_each          = local.replicated ? toset(var.verifier_cidrs) : toset([])
  security_group_id = aws_security_group.alb[0].id
  description       = "HTTPS from clients"
  ip_protocol       = "tcp"
  from_port         = 443
  to_port           = 443
  cidr_ipv4         = each.value
}

resource "aws_vpc_security_group_egress_rule" "alb_to_replicas" {
  count                        = local.replicated ? 1 : 0
  security_group_id            = aws_security_group.alb[0].id
  description                  = "to the replicas' verifiers"
  ip_protocol                  = "tcp"
  from_port                    = var.replica_port
  to_port                      = var.replica_port
  referenced_security_group_id = aws_security_group.replica[0].id
}

resource "aws_vpc_security_group_egress_rule" "alb_to_primary" {
  count                        = local.replicated ? 1 : 0
  security_group_id            = aws_security_group.alb[0].id
  description                  = "writes to the primary's nginx"
  ip_protocol                  = "tcp"
  from_port                    = 443
  to_port                      = 443
  referenced_security_group_id = aws_security_group.instance.id
}

resource "aws_security_group" "replica" {
  count       = local.replicated ? 1 : 0
  name        = "${local.name}-replica"
  description = "Glassbox verifier replicas"
  vpc_id      = aws_vpc.main.id
  tags        = { Name = "${local.name}-replica" }
}

resource "aws_vpc_security_group_ingress_rule" "replica_from_alb" {
  count                        = local.replicated ? 1 : 0
  security_group_id            = aws_security_group.replica[0].id
  description                  = "the verifier, from the load balancer only"
  ip_protocol                  = "tcp"
  from_port                    = var.replica_port
  to_port                      = var.replica_port
  referenced_security_group_id = aws_security_group.alb[0].id
}

resource "aws_vpc_security_group_egress_rule" "replica_https" {
  count             = local.replicated ? 1 : 0
  security_group_id = aws_security_group.replica[0].id
  description       = "HTTPS out: CloudFront (tiles), Secrets Manager, S3 (bootstrap), packages"
  ip_protocol       = "tcp"
  from_port         = 443
  to_port           = 443
  cidr_ipv4         = "0.0.0.0/0"
}

resource "aws_vpc_security_group_ingress_rule" "primary_from_alb" {
  count                        = local.replicated ? 1 : 0
  security_group_id            = aws_security_group.instance.id
  description                  = "writes from the load balancer to nginx"
  ip_protocol                  = "tcp"
  from_port                    = 443
  to_port                      = 443
  referenced_security_group_id = aws_security_group.alb[0].id
}

# --- the shared challenge key ------------------------------------------------
# Made empty: its value is the primary's challenge key (64 hex digits),
# put once by the operator (docs/deploy.md), never by Terraform (it would
# sit in the state file).
resource "aws_secretsmanager_secret" "challenge_key" {
  count                   = local.replicated ? 1 : 0
  name_prefix             = "${local.name}-challenge-key-"
  description             = "glassbox-verifier challenge-key shared by the primary and every replica"
  recovery_window_in_days = 7
}

# --- the replicas' role: the bootstrap and the secret, nothing else ----------
resource "aws_iam_role" "replica" {
  count              = local.replicated ? 1 : 0
  name               = "${local.name}-replica"
  assume_role_policy = data.aws_iam_policy_document.assume.json
}

data "aws_iam_policy_document" "replica" {
  count = local.replicated ? 1 : 0
  statement {
    sid       = "ReadBootstrap"
    actions   = ["s3:GetObject"]
    resources = ["${aws_s3_bucket.images.arn}/bootstrap/*"]
  }
  statement {
    sid       = "ReadChallengeKey"
    actions   = ["secretsmanager:GetSecretValue"]
    resources = [aws_secretsmanager_secret.challenge_key[0].arn]
  }
}

resource "aws_iam_role_policy" "replica" {
  count  = local.replicated ? 1 : 0
  name   = "${local.name}-replica"
  role   = aws_iam_role.replica[0].id
  policy = data.aws_iam_policy_document.replica[0].json
}

resource "aws_iam_instance_profile" "replica" {
  count = local.replicated ? 1 : 0
  name  = "${local.name}-replica"
  role  = aws_iam_role.replica[0].name
}

resource "aws_s3_object" "setup_replica" {
  count  = local.replicated ? 1 : 0
  bucket = aws_s3_bucket.images.id
  key    = "bootstrap/setup-replica.sh"
  source = "${path.module}/../scripts/setup-replica.sh"
  etag   = filemd5("${path.module}/../scripts/setup-replica.sh")
}

# --- the replicas -------------------------------------------------------------
resource "aws_launch_template" "replica" {
  count                  = local.replicated ? 1 : 0
  name_prefix            = "${local.name}-replica-"
  image_id               = coalesce(var.replica_ami_id, var.ami_id, nonsensitive(data.aws_ssm_parameter.al2023.value))
  instance_type          = var.replica_instance_type
  vpc_security_group_ids = [aws_security_group.replica[0].id]
  update_default_version = true

  iam_instance_profile {
    arn = aws_iam_instance_profile.replica[0].arn
  }

  metadata_options {
    http_endpoint               = "enabled"
    http_tokens                 = "required"
    http_put_response_hop_limit = 1
  }

  block_device_mappings {
    device_name = "/dev/xvda"
    ebs {
      encrypted             = true
      volume_type           = "gp3"
      volume_size           = var.root_volume_gb
      delete_on_termination = true
    }
  }

  user_data = base64encode(templatefile("${path.module}/replica-user-data.sh.tftpl", {
    region            = var.region
    bucket            = aws_s3_bucket.images.id
    mirror_url        = "https://${aws_cloudfront_distribution.tiles[0].domain_name}/"
    log_key           = var.log_key == null ? "" : var.log_key
    challenge_secret  = aws_secretsmanager_secret.challenge_key[0].arn
    port              = var.replica_port
    mirror_interval   = var.mirror_interval
    nonce_ttl         = var.nonce_ttl
    replica_threads   = var.replica_threads
    challenge_rate    = var.replica_challenge_rate
  }))

  tag_specifications {
    resource_type = "instance"
    tags          = { Name = "${local.name}-replica" }
  }

  lifecycle {
    precondition {
      condition     = var.log_key != null
      error_message = "replicas >= 1 needs log_key: the primary's log key (glassbox registry --json checkpoint: vkey), which every replica pins."
    }
  }
}

resource "aws_autoscaling_group" "replicas" {
  count               = local.replicated ? 1 : 0
  name_prefix         = "${local.name}-replicas-"
  min_size            = var.replicas
  max_size            = coalesce(var.replicas_max, var.replicas)
  desired_capacity    = var.replicas
  vpc_zone_identifier = aws_subnet.replicas[*].id
  target_group_arns   = [aws_lb_target_group.replicas[0].arn]
  # In service only when the load balancer's check (/readyz) passes, and
  # replaced when it keeps failing; the grace covers the first boot
  # (building Glassbox, the copy and its first audit).
  health_check_type         = "ELB"
  health_check_grace_period = var.replica_boot_seconds

  launch_template {
    id      = aws_launch_template.replica[0].id
    version = aws_launch_template.replica[0].latest_version
  }

  instance_refresh {
    strategy = "Rolling"
    preferences {
      min_healthy_percentage = 50
    }
  }

  tag {
    key                 = "Name"
    value               = "${local.name}-replica"
    propagate_at_launch = true
  }

  lifecycle {
    precondition {
      condition     = coalesce(var.replicas_max, var.replicas) >= var.replicas
      error_message = "replicas_max must not be below replicas."
    }
  }
}

# More replicas when the average CPU passes the target (a replica's
# capacity is CPU-bound: docs/capacity.md), up to replicas_max.
resource "aws_autoscaling_policy" "cpu" {
  count                  = local.replicated && coalesce(var.replicas_max, var.replicas) > var.replicas ? 1 : 0
  name                   = "${local.name}-replicas-cpu"
  autoscaling_group_name = aws_autoscaling_group.replicas[0].name
  policy_type            = "TargetTrackingScaling"
  target_tracking_configuration {
    predefined_metric_specification {
      predefined_metric_type = "ASGAverageCPUUtilization"
    }
    target_value = var.replica_cpu_target
  }
}

# --- the load balancer --------------------------------------------------------
resource "aws_lb" "replicas" {
  count                      = local.replicated ? 1 : 0
  name_prefix                = "gbx-"
  internal                   = false
  load_balancer_type         = "application"
  security_groups            = [aws_security_group.alb[0].id]
  subnets                    = aws_subnet.replicas[*].id
  drop_invalid_header_fields = true
  desync_mitigation_mode     = "strictest"
  idle_timeout               = 60
  enable_deletion_protection = var.lb_deletion_protection
}

resource "aws_lb_target_group" "replicas" {
  count                = local.replicated ? 1 : 0
  name_prefix          = "gbr-"
  port                 = var.replica_port
  protocol             = "HTTP"
  vpc_id               = aws_vpc.main.id
  deregistration_delay = 30

  health_check {
    path                = "/readyz"
    protocol            = "HTTP"
    matcher             = "200"
    interval            = 10
    timeout             = 5
    healthy_threshold   = 2
    unhealthy_threshold = 3
  }

  # A client's challenge and its verify on one replica (the used-nonce
  # store is per host): the load balancer's cookie, for a nonce's life.
  stickiness {
    type            = "lb_cookie"
    enabled         = true
    cookie_duration = var.nonce_ttl
  }
}

resource "aws_lb_target_group" "primary" {
  count                = local.replicated ? 1 : 0
  name_prefix          = "gbp-"
  port                 = 443
  protocol             = "HTTPS"
  vpc_id               = aws_vpc.main.id
  deregistration_delay = 30

  health_check {
    path                = "/readyz"
    protocol            = "HTTPS"
    matcher             = "200"
    interval            = 10
    timeout             = 5
    healthy_threshold   = 2
    unhealthy_threshold = 3
  }
}

resource "aws_lb_target_group_attachment" "primary" {
  count            = local.replicated ? 1 : 0
  target_group_arn = aws_lb_target_group.primary[0].arn
  target_id        = aws_instance.parent.id
  port             = 443
}

resource "aws_lb_listener" "https" {
  count             = local.replicated ? 1 : 0
  load_balancer_arn = aws_lb.replicas[0].arn
  port              = 443
  protocol          = "HTTPS"
  ssl_policy        = "ELBSecurityPolicy-TLS13-1-2-2021-06"
  certificate_arn   = var.certificate_arn

  default_action {
    type             = "forward"
    target_group_arn = aws_lb_target_group.replicas[0].arn
  }

  lifecycle {
    precondition {
      condition     = var.certificate_arn != null
      error_message = "replicas >= 1 needs certificate_arn: an ACM certificate for the load balancer's name."
    }
  }
}

# The two writes go to the primary; a replica would refuse them (403
# mirror_read_only). Both conditions must hold: a GET of the releases is a
# read, served by the replicas.
resource "aws_lb_listener_rule" "writes" {
  count        = local.replicated ? 1 : 0
  listener_arn = aws_lb_listener.https[0].arn
  priority     = 10

  condition {
    http_request_method {
      values = ["POST"]
    }
  }
  condition {
    path_pattern {
      values = ["/api/v1/releases", "/api/v1/releases/*"]
    }
  }

  action {
    type             = "forward"
    target_group_arn = aws_lb_target_group.primary[0].arn
  }
}
