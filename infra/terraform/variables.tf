variable "region" {
  description = "AWS region to deploy in (no default: say where)."
  type        = string
}

variable "name_prefix" {
  description = "Prefix of every resource name."
  type        = string
  default     = "glassbox"
  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,30}$", var.name_prefix))
    error_message = "name_prefix: 2 to 31 lower-case letters, digits or dashes, starting with a letter."
  }
}

variable "tags" {
  description = "Extra tags on every resource."
  type        = map(string)
  default     = {}
}

variable "vpc_cidr" {
  description = "The VPC's address range."
  type        = string
  default     = "10.0.0.0/16"
}

variable "subnet_cidr" {
  description = "The public subnet the instance lives in."
  type        = string
  default     = "10.0.1.0/24"
}

variable "availability_zone" {
  description = "Availability zone of the subnet (default: the region's first)."
  type        = string
  default     = null
}

variable "ssh_cidr" {
  description = "The only address range SSH is open to (your office or bastion, e.g. 203.0.113.7/32)."
  type        = string
  validation {
    condition     = can(cidrhost(var.ssh_cidr, 0)) && var.ssh_cidr != "0.0.0.0/0"
    error_message = "ssh_cidr must be a CIDR range, and not the whole Internet."
  }
}

variable "key_name" {
  description = "EC2 key pair for SSH (null: no key; use SSM Session Manager)."
  type        = string
  default     = null
}

variable "bridge_port" {
  description = "TCP port of glassbox-parent's forwarder to the enclave."
  type        = number
  default     = 6300
}

variable "bridge_cidrs" {
  description = "Who may reach the bridge port (your application servers)."
  type        = list(string)
  default     = []
}

variable "verifier_port" {
  description = "HTTPS port of the verifier (nginx terminates TLS in front of it)."
  type        = number
  default     = 443
}

variable "verifier_cidrs" {
  description = "Who may reach the verifier; clients and auditors everywhere by default."
  type        = list(string)
  default     = ["0.0.0.0/0"]
}

variable "instance_type" {
  description = "An instance type that supports Nitro Enclaves (at least 4 vCPUs)."
  type        = string
  default     = "c6a.xlarge"
}

variable "ami_id" {
  description = "AMI of the parent instance (default: the latest Amazon Linux 2023)."
  type        = string
  default     = null
}

variable "root_volume_gb" {
  description = "Size of the encrypted root volume."
  type        = number
  default     = 30
}

variable "enclave_cpus" {
  description = "vCPUs given to the enclave (the allocator's cpu_count)."
  type        = number
  default     = 2
}

variable "enclave_memory_mib" {
  description = "Memory given to the enclave (the allocator's memory_mib)."
  type        = number
  default     = 2048
}

variable "enclave_releases" {
  description = "The releases whose enclaves may use the KMS key, release id => PCRs, from `glassbox kms-policy --release ID [--release ID2] --tfvars`: each has \"0\", \"1\", \"2\" and, for signed images, \"8\". Two during an upgrade (old and new); none before the first image is built."
  type        = map(map(string))
  default     = {}
  validation {
    condition = length(var.enclave_releases) <= 8 && alltrue([
      for id, pcrs in var.enclave_releases : can(regex("^[0-9a-f]{16}$", id)) &&
      alltrue([for k in ["0", "1", "2"] : contains(keys(pcrs), k)]) &&
      alltrue([for k, v in pcrs : contains(["0", "1", "2", "8"], k) && can(regex("^[0-9a-f]{96}$", v))])
    ])
    error_message = "enclave_releases: at most 8 release ids (16 hex digits), each with PCRs \"0\", \"1\", \"2\" (and maybe \"8\"), 96 lower-case hex digits each."
  }
}

variable "kms_admin_arn" {
  description = "Who administers the KMS key (never decrypts with it); default: the account root, so IAM policies decide."
  type        = string
  default     = null
}

variable "log_retention_days" {
  description = "How long CloudWatch keeps the instance's logs."
  type        = number
  default     = 90
}

variable "dist_file" {
  description = "Glassbox's source tarball for the instance to build (git archive --format=tar.gz -o glassbox-dist.tar.gz HEAD)."
  type        = string
}

variable "eif_file" {
  description = "The enclave image to start with (build-eif.sh's app.eif); null: upload one later."
  type        = string
  default     = null
}

variable "trail_enabled" {
  description = "Create a CloudTrail trail that records every KMS call on the key, Decrypt and GenerateDataKey included (false if an organization trail already does)."
  type        = bool
  default     = true
}

variable "trail_retention_days" {
  description = "How long the trail's bucket keeps the log files."
  type        = number
  default     = 365
}

variable "metrics_log_retention_days" {
  description = "How long CloudWatch keeps the metrics' log events (the metrics themselves are kept by CloudWatch's own rules)."
  type        = number
  default     = 7
}

variable "alarm_actions" {
  description = "What the alarms notify (SNS topic ARNs), when they fire and when they clear; none by default (the alarms still show their state)."
  type        = list(string)
  default     = []
}

variable "alarm_minutes" {
  description = "How many one-minute periods in a row a condition holds before its alarm fires (the CloudWatch agent scrapes every minute)."
  type        = number
  default     = 3
  validation {
    condition     = var.alarm_minutes >= 1 && var.alarm_minutes <= 60 && floor(var.alarm_minutes) == var.alarm_minutes
    error_message = "alarm_minutes is a whole number from 1 to 60."
  }
}

# --- the replicated form (tiles.tf, replicas.tf; docs/deploy.md section 10)

variable "replicas" {
  description = "Verifier replicas behind a load balancer, following the log's tiles through CloudFront (0: today's single instance, nothing of the replicated form is made)."
  type        = number
  default     = 0
  validation {
    condition     = var.replicas >= 0 && var.replicas <= 64 && floor(var.replicas) == var.replicas
    error_message = "replicas is a whole number from 0 to 64."
  }
}

variable "replicas_max" {
  description = "Most replicas the autoscaling group may run (null: replicas, no scaling); above replicas, a CPU target-tracking policy adds them."
  type        = number
  default     = null
  validation {
    condition     = try(var.replicas_max >= 1 && var.replicas_max <= 64 && floor(var.replicas_max) == var.replicas_max, var.replicas_max == null)
    error_message = "replicas_max is a whole number from 1 to 64 (and not below replicas)."
  }
}

variable "replica_instance_type" {
  description = "Instance type of a replica (no enclave; verification is CPU-bound: docs/capacity.md)."
  type        = string
  default     = "c6a.large"
}

variable "replica_ami_id" {
  description = "AMI of the replicas (default: ami_id, else the latest Amazon Linux 2023)."
  type        = string
  default     = null
}

variable "replica_subnet_cidrs" {
  description = "Two (or more) public subnets, one per availability zone, for the load balancer and the replicas."
  type        = list(string)
  default     = ["10.0.2.0/24", "10.0.3.0/24"]
  validation {
    condition     = length(var.replica_subnet_cidrs) >= 2 && alltrue([for c in var.replica_subnet_cidrs : can(cidrhost(c, 0))])
    error_message = "replica_subnet_cidrs: at least two CIDR ranges (an ALB spans two availability zones)."
  }
}

variable "replica_port" {
  description = "TCP port of a replica's verifier (plain HTTP inside the VPC; the load balancer terminates TLS)."
  type        = number
  default     = 8080
}

variable "replica_threads" {
  description = "glassbox-verifier worker threads on a replica (0: the verifier's default, four per CPU)."
  type        = number
  default     = 0
}

variable "replica_challenge_rate" {
  description = "challenge-rate on a replica. Behind the load balancer every client reaches a replica from the balancer's addresses, so a per-client limit there would be a limit per balancer node: 0 (off) by default; rate-limit clients in front (AWS WAF rate-based rules)."
  type        = number
  default     = 0
}

variable "replica_boot_seconds" {
  description = "Grace before a new replica's health counts: its first boot builds Glassbox, copies the log and audits it."
  type        = number
  default     = 1200
}

variable "replica_cpu_target" {
  description = "Average CPU (percent) the autoscaling policy holds the replicas at (when replicas_max > replicas)."
  type        = number
  default     = 60
}

variable "certificate_arn" {
  description = "ACM certificate of the load balancer's HTTPS listener (required when replicas >= 1)."
  type        = string
  default     = null
}

variable "log_key" {
  description = "The primary's log key, which every replica pins (--log-key: `glassbox registry --json checkpoint`, field vkey); required when replicas >= 1."
  type        = string
  default     = null
  validation {
    condition     = var.log_key == null || can(regex("^[!-*,-~]+\\+[0-9a-f]{8}\\+[A-Za-z0-9+/=]+$", var.log_key))
    error_message = "log_key is a note verifier key: NAME+HASH+KEY (8 hex digits, base64)."
  }
}

variable "mirror_interval" {
  description = "Seconds between a replica's rounds (--mirror-interval)."
  type        = number
  default     = 10
}

variable "nonce_ttl" {
  description = "A challenge's life in seconds (the verifier's nonce-ttl), and the load balancer's stickiness cookie's."
  type        = number
  default     = 300
  validation {
    condition     = var.nonce_ttl >= 1 && var.nonce_ttl <= 604800
    error_message = "nonce_ttl: 1 to 604800 seconds (the limit of an ALB cookie)."
  }
}

variable "lb_deletion_protection" {
  description = "Protect the load balancer from deletion."
  type        = bool
  default     = false
}

variable "tiles_prefix" {
  description = "Key prefix of the tiles in their bucket (the only place the primary may write)."
  type        = string
  default     = "log"
  validation {
    condition     = can(regex("^[a-z0-9][a-z0-9-]{0,62}$", var.tiles_prefix))
    error_message = "tiles_prefix: lower-case letters, digits and dashes, no slash."
  }
}

variable "tiles_checkpoint_ttl" {
  description = "Seconds CloudFront (and any cache) keeps the checkpoint and partial tiles: how long a new checkpoint may take to reach readers."
  type        = number
  default     = 5
  validation {
    condition     = var.tiles_checkpoint_ttl >= 0 && var.tiles_checkpoint_ttl <= 300
    error_message = "tiles_checkpoint_ttl: 0 to 300 seconds."
  }
}

variable "tiles_old_versions_days" {
  description = "Days the tiles bucket keeps replaced versions (each published checkpoint)."
  type        = number
  default     = 365
}

variable "tiles_price_class" {
  description = "CloudFront price class of the tiles' distribution."
  type        = string
  default     = "PriceClass_100"
}
