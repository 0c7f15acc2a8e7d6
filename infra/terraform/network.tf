resource "aws_vpc" "main" {
  cidr_block           = var.vpc_cidr
  enable_dns_support   = true
  enable_dns_hostnames = true
  tags                 = { Name = "${local.name}-vpc" }
}

resource "aws_subnet" "public" {
  vpc_id                  = aws_vpc.main.id
  cidr_block              = var.subnet_cidr
  availability_zone       = local.az
  map_public_ip_on_launch = true
  tags                    = { Name = "${local.name}-public" }
}

resource "aws_internet_gateway" "main" {
  vpc_id = aws_vpc.main.id
  tags   = { Name = "${local.name}-igw" }
}

resource "aws_route_table" "public" {
  vpc_id = aws_vpc.main.id
  tags   = { Name = "${local.name}-public" }
}

resource "aws_route" "internet" {
  route_table_id         = aws_route_table.public.id
  destination_cidr_block = "0.0.0.0/0"
  gateway_id             = aws_internet_gateway.main.id
}

resource "aws_route_table_association" "public" {
  subnet_id      = aws_subnet.public.id
  route_table_id = aws_route_table.public.id
}

# In: SSH from one range, the bridge from the application, the verifier
# from clients. Out: HTTPS only (S3, KMS, CloudWatch, package mirrors);
# the VPC resolver and the time service are not subject to it.
resource "aws_security_group" "instance" {
  name        = "${local.name}-instance"
  description = "Glassbox parent instance"
  vpc_id      = aws_vpc.main.id
  tags        = { Name = "${local.name}-instance" }
}

resource "aws_vpc_security_group_ingress_rule" "ssh" {
  security_group_id = aws_security_group.instance.id
  description       = "SSH from the operators"
  ip_protocol       = "tcp"
  from_port         = 22
  to_port           = 22
  cidr_ipv4         = var.ssh_cidr
}

resource "aws_vpc_security_group_ingress_rule" "bridge" {
  for_each          = toset(var.bridge_cidrs)
  security_group_id = aws_security_group.instance.id
  description       = "glassbox-parent bridge to the enclave"
  ip_protocol       = "tcp"
  from_port         = var.bridge_port
  to_port           = var.bridge_port
  cidr_ipv4         = each.value
}

# In the replicated form (replicas.tf) clients reach the load balancer,
# and the primary only through it (rule primary_from_alb).
resource "aws_vpc_security_group_ingress_rule" "verifier" {
  for_each          = local.replicated ? toset([]) : toset(var.verifier_cidrs)
  security_group_id = aws_security_group.instance.id
  description       = "glassbox-verifier behind nginx (TLS)"
  ip_protocol       = "tcp"
  from_port         = var.verifier_port
  to_port           = var.verifier_port
  cidr_ipv4         = each.value
}

resource "aws_vpc_security_group_egress_rule" "https" {
  security_group_id = aws_security_group.instance.id
  description       = "HTTPS out: S3, KMS, CloudWatch, packages"
  ip_protocol       = "tcp"
  from_port         = 443
  to_port           = 443
  cidr_ipv4         = "0.0.0.0/0"
}
