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
