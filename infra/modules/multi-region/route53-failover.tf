################################################################################
# Hosted zone (created here, or an existing one)
################################################################################

resource "aws_route53_zone" "this" {
  provider = aws.primary
  count    = var.create_hosted_zone ? 1 : 0
  #checkov:skip=CKV2_AWS_38:DNSSEC signing needs an asymmetric KMS key in us-east-1 and a DS record in the parent zone, both owned by the organisation's DNS pipeline, not by this stack.
  #checkov:skip=CKV2_AWS_39:Query logging must go to a us-east-1 log group; the failover path must not depend on anything in us-east-1, and the harness resolves and records answers itself.

  name    = var.domain_name
  comment = "drharness failover zone"
  tags    = local.tags
}

locals {
  zone_id = var.create_hosted_zone ? aws_route53_zone.this[0].zone_id : var.hosted_zone_id
}

################################################################################
# Health checks: Route 53 probes each region's /health on the regional API host itself, so the
# verdict does not depend on the failover record it drives
################################################################################

resource "aws_route53_health_check" "primary" {
  provider = aws.primary

  type              = "HTTPS"
  fqdn              = local.app_hosts.primary
  port              = 443
  resource_path     = var.health_check_path
  enable_sni        = true
  request_interval  = var.health_check_request_interval
  failure_threshold = var.health_check_failure_threshold
  measure_latency   = true
  regions           = length(var.health_check_regions) == 0 ? null : var.health_check_regions
  reference_name    = substr("${var.name_prefix}-${var.primary_region}", 0, 64)
  tags              = merge(local.tags, { Name = "${var.name_prefix}-${var.primary_region}" })
}

resource "aws_route53_health_check" "secondary" {
  provider = aws.primary

  type              = "HTTPS"
  fqdn              = local.app_hosts.secondary
  port              = 443
  resource_path     = var.health_check_path
  enable_sni        = true
  request_interval  = var.health_check_request_interval
  failure_threshold = var.health_check_failure_threshold
  measure_latency   = true
  regions           = length(var.health_check_regions) == 0 ? null : var.health_check_regions
  reference_name    = substr("${var.name_prefix}-${var.secondary_region}", 0, 64)
  tags              = merge(local.tags, { Name = "${var.name_prefix}-${var.secondary_region}" })
}

################################################################################
# The aggregated verdict in DNS: per region, a CLOUDWATCH_METRIC check on the region's DNS alarm
# (monitoring.tf, in the secondary region) and a CALCULATED check that is healthy only while BOTH the
# HTTP check above and the verdict are. The failover records use the CALCULATED checks, so DNS follows
# the aggregator (e.g. an Aurora writer the app cannot see is gone) as well as the app's /health.
################################################################################

resource "aws_route53_health_check" "primary_verdict" {
  provider = aws.primary

  type                            = "CLOUDWATCH_METRIC"
  cloudwatch_alarm_name           = aws_cloudwatch_metric_alarm.dns_health_primary.alarm_name
  cloudwatch_alarm_region         = var.secondary_region
  insufficient_data_health_status = var.dns_health_insufficient_data_status
  reference_name                  = substr("${var.name_prefix}-verdict-${var.primary_region}", 0, 27)
  tags                            = merge(local.tags, { Name = "${var.name_prefix}-${var.primary_region}-verdict" })
}

resource "aws_route53_health_check" "secondary_verdict" {
  provider = aws.primary

  type                            = "CLOUDWATCH_METRIC"
  cloudwatch_alarm_name           = aws_cloudwatch_metric_alarm.dns_health_secondary.alarm_name
  cloudwatch_alarm_region         = var.secondary_region
  insufficient_data_health_status = var.dns_health_insufficient_data_status
  reference_name                  = substr("${var.name_prefix}-verdict-${var.secondary_region}", 0, 27)
  tags                            = merge(local.tags, { Name = "${var.name_prefix}-${var.secondary_region}-verdict" })
}

resource "aws_route53_health_check" "primary_failover" {
  provider = aws.primary

  type                   = "CALCULATED"
  child_healthchecks     = [aws_route53_health_check.primary.id, aws_route53_health_check.primary_verdict.id]
  child_health_threshold = 2
  reference_name         = substr("${var.name_prefix}-failover-${var.primary_region}", 0, 27)
  tags                   = merge(local.tags, { Name = "${var.name_prefix}-${var.primary_region}-failover" })
}

resource "aws_route53_health_check" "secondary_failover" {
  provider = aws.primary

  type                   = "CALCULATED"
  child_healthchecks     = [aws_route53_health_check.secondary.id, aws_route53_health_check.secondary_verdict.id]
  child_health_threshold = 2
  reference_name         = substr("${var.name_prefix}-failover-${var.secondary_region}", 0, 27)
  tags                   = merge(local.tags, { Name = "${var.name_prefix}-${var.secondary_region}-failover" })
}

locals {
  # What the failover records use (the CALCULATED checks), and their HTTP children.
  health_check_ids = {
    primary   = aws_route53_health_check.primary_failover.id
    secondary = aws_route53_health_check.secondary_failover.id
  }
  http_health_check_ids = {
    primary   = aws_route53_health_check.primary.id
    secondary = aws_route53_health_check.secondary.id
  }
}

################################################################################
# Custom domain per region (record_name on each regional HTTP API), so HTTPS through the failover
# name is valid whichever region answers
################################################################################

resource "aws_acm_certificate" "primary" {
  provider = aws.primary
  count    = var.create_app_custom_domain ? 1 : 0

  domain_name       = var.record_name
  validation_method = "DNS"
  tags              = local.tags

  lifecycle {
    create_before_destroy = true
  }
}

resource "aws_acm_certificate" "secondary" {
  provider = aws.secondary
  count    = var.create_app_custom_domain ? 1 : 0

  domain_name       = var.record_name
  validation_method = "DNS"
  tags              = local.tags

  lifecycle {
    create_before_destroy = true
  }
}

# ACM uses the same validation record for the same name in every region of an account, so one
# set of records validates both certificates.
# Keyed by the (static) certificate name so that the instance set is known at plan time.
resource "aws_route53_record" "acm_validation" {
  provider = aws.primary
  for_each = var.create_app_custom_domain ? toset([var.record_name]) : toset([])

  zone_id         = local.zone_id
  name            = one([for dvo in aws_acm_certificate.primary[0].domain_validation_options : dvo.resource_record_name if dvo.domain_name == each.key])
  type            = one([for dvo in aws_acm_certificate.primary[0].domain_validation_options : dvo.resource_record_type if dvo.domain_name == each.key])
  records         = [one([for dvo in aws_acm_certificate.primary[0].domain_validation_options : dvo.resource_record_value if dvo.domain_name == each.key])]
  ttl             = 300
  allow_overwrite = true
}

resource "aws_acm_certificate_validation" "primary" {
  provider = aws.primary
  count    = var.create_app_custom_domain ? 1 : 0

  certificate_arn         = aws_acm_certificate.primary[0].arn
  validation_record_fqdns = [for r in aws_route53_record.acm_validation : r.fqdn]
}

resource "aws_acm_certificate_validation" "secondary" {
  provider = aws.secondary
  count    = var.create_app_custom_domain ? 1 : 0

  certificate_arn         = aws_acm_certificate.secondary[0].arn
  validation_record_fqdns = [for r in aws_route53_record.acm_validation : r.fqdn]
}

resource "aws_apigatewayv2_domain_name" "primary" {
  provider = aws.primary
  count    = var.create_app_custom_domain ? 1 : 0

  domain_name = var.record_name
  domain_name_configuration {
    certificate_arn = aws_acm_certificate_validation.primary[0].certificate_arn
    endpoint_type   = "REGIONAL"
    security_policy = "TLS_1_2"
  }
  tags = local.tags
}

resource "aws_apigatewayv2_domain_name" "secondary" {
  provider = aws.secondary
  count    = var.create_app_custom_domain ? 1 : 0

  domain_name = var.record_name
  domain_name_configuration {
    certificate_arn = aws_acm_certificate_validation.secondary[0].certificate_arn
    endpoint_type   = "REGIONAL"
    security_policy = "TLS_1_2"
  }
  tags = local.tags
}

resource "aws_apigatewayv2_api_mapping" "primary" {
  provider = aws.primary
  count    = var.create_app_custom_domain ? 1 : 0

  api_id      = aws_apigatewayv2_api.primary.id
  domain_name = aws_apigatewayv2_domain_name.primary[0].id
  stage       = aws_apigatewayv2_stage.primary.id
}

resource "aws_apigatewayv2_api_mapping" "secondary" {
  provider = aws.secondary
  count    = var.create_app_custom_domain ? 1 : 0

  api_id      = aws_apigatewayv2_api.secondary.id
  domain_name = aws_apigatewayv2_domain_name.secondary[0].id
  stage       = aws_apigatewayv2_stage.secondary.id
}

locals {
  # What the failover record points at in each region: the custom domain's regional target when
  # there is one, else the API's own host.
  failover_targets = {
    primary   = var.create_app_custom_domain ? aws_apigatewayv2_domain_name.primary[0].domain_name_configuration[0].target_domain_name : local.app_hosts.primary
    secondary = var.create_app_custom_domain ? aws_apigatewayv2_domain_name.secondary[0].domain_name_configuration[0].target_domain_name : local.app_hosts.secondary
  }
}

################################################################################
# Failover records. CNAME rather than alias so that the TTL is ours (dns_ttl): the harness measures
# DNS convergence through it.
################################################################################

resource "aws_route53_record" "primary" {
  provider = aws.primary

  zone_id         = local.zone_id
  name            = var.record_name
  type            = "CNAME"
  ttl             = var.dns_ttl
  records         = [local.failover_targets.primary]
  set_identifier  = "${var.name_prefix}-${var.primary_region}"
  health_check_id = aws_route53_health_check.primary_failover.id

  failover_routing_policy {
    type = "PRIMARY"
  }
}

resource "aws_route53_record" "secondary" {
  provider = aws.primary

  zone_id         = local.zone_id
  name            = var.record_name
  type            = "CNAME"
  ttl             = var.dns_ttl
  records         = [local.failover_targets.secondary]
  set_identifier  = "${var.name_prefix}-${var.secondary_region}"
  health_check_id = aws_route53_health_check.secondary_failover.id

  failover_routing_policy {
    type = "SECONDARY"
  }
}
