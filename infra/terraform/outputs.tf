output "instance_id" {
  value = aws_instance.parent.id
}

output "public_ip" {
  value = aws_instance.parent.public_ip
}

output "verifier_url" {
  description = "The verifier (and its auditor page) behind nginx."
  value       = "https://${aws_instance.parent.public_dns}${var.verifier_port == 443 ? "" : ":${var.verifier_port}"}/"
}

output "bridge_endpoint" {
  value = "${aws_instance.parent.public_ip}:${var.bridge_port}"
}

output "image_bucket" {
  value = aws_s3_bucket.images.id
}

output "kms_key_arn" {
  value = aws_kms_key.enclave.arn
}

output "instance_role_arn" {
  value = aws_iam_role.instance.arn
}

output "log_group" {
  value = aws_cloudwatch_log_group.instance.name
}

output "trail_bucket" {
  description = "Where CloudTrail keeps the record of every KMS call (null: trail_enabled is false)."
  value       = var.trail_enabled ? aws_s3_bucket.trail[0].id : null
}

output "metrics_log_group" {
  value = aws_cloudwatch_log_group.metrics.name
}

output "alarms" {
  description = "The CloudWatch alarms (enclave down, verifier not ready, log damaged)."
  value       = [for a in aws_cloudwatch_metric_alarm.glassbox : a.alarm_name]
}

output "tiles_bucket" {
  description = "The tiles' bucket (null: replicas = 0)."
  value       = local.replicated ? aws_s3_bucket.tiles[0].id : null
}

output "tiles_url" {
  description = "Where the log's tiles are served (CloudFront): the replicas' --mirror URL (null: replicas = 0)."
  value       = local.replicated ? "https://${aws_cloudfront_distribution.tiles[0].domain_name}/" : null
}

output "lb_dns_name" {
  description = "The load balancer's name: point the verifier's DNS name at it (CNAME or alias; null: replicas = 0)."
  value       = local.replicated ? aws_lb.replicas[0].dns_name : null
}

output "challenge_key_secret" {
  description = "The Secrets Manager secret to put the primary's challenge key in (null: replicas = 0)."
  value       = local.replicated ? aws_secretsmanager_secret.challenge_key[0].arn : null
}
