data "aws_ssm_parameter" "al2023" {
  name = "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64"
}

# The parent instance: enclaves on, IMDSv2 only (one hop, so containers on
# it cannot reach the metadata service), encrypted root volume, bootstrapped
# by infra/scripts/setup-parent.sh from the image bucket.
resource "aws_instance" "parent" {
  ami                    = coalesce(var.ami_id, nonsensitive(data.aws_ssm_parameter.al2023.value))
  instance_type          = var.instance_type
  subnet_id              = aws_subnet.public.id
  vpc_security_group_ids = [aws_security_group.instance.id]
  iam_instance_profile   = aws_iam_instance_profile.instance.name
  key_name               = var.key_name

  enclave_options {
    enabled = true
  }

  metadata_options {
    http_endpoint               = "enabled"
    http_tokens                 = "required"
    http_put_response_hop_limit = 1
  }

  root_block_device {
    encrypted             = true
    volume_type           = "gp3"
    volume_size           = var.root_volume_gb
    delete_on_termination = true
  }

  user_data = templatefile("${path.module}/user-data.sh.tftpl", {
    bucket       = aws_s3_bucket.images.id
    region       = var.region
    enclave_cpus = var.enclave_cpus
    enclave_mib  = var.enclave_memory_mib
    bridge_port  = var.bridge_port
    log_group    = aws_cloudwatch_log_group.instance.name
    name         = local.name

    metrics_log_group = aws_cloudwatch_log_group.metrics.name
  })
  user_data_replace_on_change = true
  depends_on                  = [aws_s3_object.setup, aws_s3_object.dist, aws_s3_object.eif]

  tags = { Name = "${local.name}-parent" }
}
