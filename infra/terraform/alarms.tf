# The three states someone is woken for, from the metrics the CloudWatch
# agent makes of the daemons' /metrics (infra/cloudwatch, namespace
# Glassbox, dimension Deployment = name_prefix). Missing data counts as
# breaching where silence means the thing is gone: no EnclaveRunning means
# the parent (or the agent) is down, no glassbox_ready that the verifier is.
locals {
  metrics_namespace = "Glassbox"
  alarms = {
    enclave-down = {
      description = "The enclave is not RUNNING (nitro-cli describe-enclaves through glassbox-parent), or nothing reports it."
      metric      = "EnclaveRunning"
      statistic   = "Minimum"
      comparison  = "LessThanThreshold"
      threshold   = 1
      missing     = "breaching"
    }
    verifier-not-ready = {
      description = "glassbox-verifier's /readyz is not 200 (first audit pending, registry unreadable, checkpoint and tree disagree, or log damaged), or nothing reports it."
      metric      = "glassbox_ready"
      statistic   = "Minimum"
      comparison  = "LessThanThreshold"
      threshold   = 1
      missing     = "breaching"
    }
    log-damaged = {
      description = "The verifier's log watch found the transparency log damaged or rolled back (/readyz: log_damaged); verify answers 503 until it is repaired."
      metric      = "glassbox_log_damaged"
      statistic   = "Maximum"
      comparison  = "GreaterThanOrEqualToThreshold"
      threshold   = 1
      missing     = "notBreaching"
    }
  }
}

resource "aws_cloudwatch_metric_alarm" "glassbox" {
  for_each            = local.alarms
  alarm_name          = "${local.name}-${each.key}"
  alarm_description   = each.value.description
  namespace           = local.metrics_namespace
  metric_name         = each.value.metric
  dimensions          = { Deployment = local.name }
  statistic           = each.value.statistic
  period              = 60
  evaluation_periods  = var.alarm_minutes
  datapoints_to_alarm = var.alarm_minutes
  comparison_operator = each.value.comparison
  threshold           = each.value.threshold
  treat_missing_data  = each.value.missing
  alarm_actions       = var.alarm_actions
  ok_actions          = var.alarm_actions
}
