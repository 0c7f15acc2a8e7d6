# Glassbox on AWS: one enclave-enabled EC2 instance running the parent
# bridge, the enclave and the verifier, with its image bucket, KMS key and
# IAM role. docs/deploy.md walks through it.
terraform {
  required_version = ">= 1.5"
  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = ">= 5.40, < 7.0"
    }
  }
}

# The region comes from var.region; credentials from the environment.
provider "aws" {
  region = var.region
  default_tags {
    tags = merge({ Project = "glassbox", ManagedBy = "terraform" }, var.tags)
  }
}

data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}
data "aws_availability_zones" "available" {
  state = "available"
}

locals {
  name       = var.name_prefix
  account_id = data.aws_caller_identity.current.account_id
  partition  = data.aws_partition.current.partition
  az         = coalesce(var.availability_zone, data.aws_availability_zones.available.names[0])
}
