################################################################################
# Shared configuration: ONE artifact, same handler, env keys, layers and VPC shape in both regions
################################################################################

locals {
  app_source_code_hash     = filebase64sha256(var.lambda_app_zip)
  harness_source_code_hash = filebase64sha256(var.lambda_harness_zip)

  # Same keys in both regions; only the values of regional resources differ. REGION, DB_DSN,
  # TABLE_NAME, BUCKET_NAME and FAILOVER_ROLE are what drharness.refapp.handler reads; DB_DSN carries
  # no password (it is in the secret DRHARNESS_DB_SECRET_ARN, never in the environment).
  app_environment = {
    for key, region in local.regions : key => merge(var.lambda_app_environment, {
      REGION                       = region
      DB_DSN                       = "host=${local.aurora[key].writer_endpoint} port=${var.aurora_port} dbname=${var.aurora_database_name} user=${var.aurora_master_username} sslmode=require"
      TABLE_NAME                   = local.table_name
      BUCKET_NAME                  = local.bucket_names[key]
      FAILOVER_ROLE                = upper(key)
      DRHARNESS_PRIMARY_REGION     = var.primary_region
      DRHARNESS_SECONDARY_REGION   = var.secondary_region
      DRHARNESS_GLOBAL_CLUSTER_ID  = local.global_cluster_id
      DRHARNESS_TABLE              = local.table_name
      DRHARNESS_BUCKET             = local.bucket_names[key]
      DRHARNESS_DB_WRITER_ENDPOINT = local.aurora[key].writer_endpoint
      DRHARNESS_DB_READER_ENDPOINT = local.aurora[key].reader_endpoint
      DRHARNESS_DB_PORT            = tostring(var.aurora_port)
      DRHARNESS_DB_NAME            = var.aurora_database_name
      DRHARNESS_DB_SECRET_ARN      = local.secret_arns[key]
    })
  }

  # The orchestrator and the aggregator get the whole stack in one variable, in the shape of the
  # drharness_target output (minus edge_url, fis_template_ids and alarm_names, which they don't use
  # and which would make every function wait for CloudFront/FIS and exceed Lambda's 4 KB env limit).
  harness_environment = {
    DRHARNESS_TARGET_JSON      = jsonencode(local.lambda_target)
    DRHARNESS_METRIC_NAMESPACE = "drharness"
    DRHARNESS_METRIC_NAME      = "RegionHealthy"
  }
}

################################################################################
# Dependencies layer (optional), published in each region from one zip
################################################################################

resource "aws_lambda_layer_version" "primary" {
  provider = aws.primary
  count    = var.lambda_layer_zip == null ? 0 : 1

  layer_name          = "${var.name_prefix}-deps"
  filename            = var.lambda_layer_zip
  source_code_hash    = filebase64sha256(var.lambda_layer_zip)
  compatible_runtimes = [var.lambda_runtime]
}

resource "aws_lambda_layer_version" "secondary" {
  provider = aws.secondary
  count    = var.lambda_layer_zip == null ? 0 : 1

  layer_name          = "${var.name_prefix}-deps"
  filename            = var.lambda_layer_zip
  source_code_hash    = filebase64sha256(var.lambda_layer_zip)
  compatible_runtimes = [var.lambda_runtime]
}

################################################################################
# Log groups (created before the functions so they are encrypted and expire)
################################################################################

resource "aws_cloudwatch_log_group" "lambda_primary" {
  provider = aws.primary
  for_each = local.function_names

  name              = "/aws/lambda/${each.value}"
  retention_in_days = var.log_retention_days
  kms_key_id        = aws_kms_key.primary.arn
  tags              = local.tags
}

resource "aws_cloudwatch_log_group" "lambda_secondary" {
  provider = aws.secondary
  for_each = local.function_names

  name              = "/aws/lambda/${each.value}"
  retention_in_days = var.log_retention_days
  kms_key_id        = aws_kms_key.secondary.arn
  tags              = local.tags
}

################################################################################
# Regional app (the workload under test)
################################################################################

resource "aws_lambda_function" "app_primary" {
  provider = aws.primary
  #checkov:skip=CKV_AWS_272:The artifact is built reproducibly by infra/scripts/build-lambda-zips.sh and pinned by source_code_hash; no signing profile exists for it.
  #checkov:skip=CKV_AWS_116:Invoked synchronously by API Gateway only; an async dead-letter queue would never receive anything.

  function_name                  = local.function_names.app
  description                    = "drharness regional app (${var.primary_region})"
  role                           = aws_iam_role.app.arn
  runtime                        = var.lambda_runtime
  handler                        = var.lambda_app_handler
  filename                       = var.lambda_app_zip
  source_code_hash               = local.app_source_code_hash
  memory_size                    = var.lambda_app_memory_mb
  timeout                        = var.lambda_app_timeout_s
  reserved_concurrent_executions = var.lambda_app_reserved_concurrency
  layers                         = aws_lambda_layer_version.primary[*].arn
  kms_key_arn                    = aws_kms_key.primary.arn

  environment {
    variables = local.app_environment.primary
  }

  dynamic "vpc_config" {
    for_each = var.primary_network == null ? [] : [var.primary_network]
    content {
      subnet_ids         = vpc_config.value.subnet_ids
      security_group_ids = vpc_config.value.lambda_security_group_ids
    }
  }

  tracing_config {
    mode = "Active"
  }

  logging_config {
    log_format = "JSON"
    log_group  = aws_cloudwatch_log_group.lambda_primary["app"].name
  }

  tags = local.tags
}

resource "aws_lambda_function" "app_secondary" {
  provider = aws.secondary
  #checkov:skip=CKV_AWS_272:The artifact is built reproducibly by infra/scripts/build-lambda-zips.sh and pinned by source_code_hash; no signing profile exists for it.
  #checkov:skip=CKV_AWS_116:Invoked synchronously by API Gateway only; an async dead-letter queue would never receive anything.

  function_name                  = local.function_names.app
  description                    = "drharness regional app (${var.secondary_region})"
  role                           = aws_iam_role.app.arn
  runtime                        = var.lambda_runtime
  handler                        = var.lambda_app_handler
  filename                       = var.lambda_app_zip
  source_code_hash               = local.app_source_code_hash
  memory_size                    = var.lambda_app_memory_mb
  timeout                        = var.lambda_app_timeout_s
  reserved_concurrent_executions = var.lambda_app_reserved_concurrency
  layers                         = aws_lambda_layer_version.secondary[*].arn
  kms_key_arn                    = aws_kms_key.secondary.arn

  environment {
    variables = local.app_environment.secondary
  }

  dynamic "vpc_config" {
    for_each = var.secondary_network == null ? [] : [var.secondary_network]
    content {
      subnet_ids         = vpc_config.value.subnet_ids
      security_group_ids = vpc_config.value.lambda_security_group_ids
    }
  }

  tracing_config {
    mode = "Active"
  }

  logging_config {
    log_format = "JSON"
    log_group  = aws_cloudwatch_log_group.lambda_secondary["app"].name
  }

  tags = local.tags
}

################################################################################
# HTTP API per region in front of the app (proxy payload 1.0, $default route and stage)
################################################################################

resource "aws_cloudwatch_log_group" "api_primary" {
  provider = aws.primary

  name              = "/aws/apigateway/${var.name_prefix}-app"
  retention_in_days = var.log_retention_days
  kms_key_id        = aws_kms_key.primary.arn
  tags              = local.tags
}

resource "aws_cloudwatch_log_group" "api_secondary" {
  provider = aws.secondary

  name              = "/aws/apigateway/${var.name_prefix}-app"
  retention_in_days = var.log_retention_days
  kms_key_id        = aws_kms_key.secondary.arn
  tags              = local.tags
}

locals {
  api_access_log_format = jsonencode({
    requestId      = "$context.requestId"
    ip             = "$context.identity.sourceIp"
    requestTime    = "$context.requestTime"
    httpMethod     = "$context.httpMethod"
    routeKey       = "$context.routeKey"
    path           = "$context.path"
    status         = "$context.status"
    latency        = "$context.responseLatency"
    integrationErr = "$context.integrationErrorMessage"
  })
}

resource "aws_apigatewayv2_api" "primary" {
  provider = aws.primary

  name          = "${var.name_prefix}-app"
  protocol_type = "HTTP"
  description   = "drharness regional app (${var.primary_region})"
  tags          = local.tags
}

resource "aws_apigatewayv2_api" "secondary" {
  provider = aws.secondary

  name          = "${var.name_prefix}-app"
  protocol_type = "HTTP"
  description   = "drharness regional app (${var.secondary_region})"
  tags          = local.tags
}

resource "aws_apigatewayv2_integration" "primary" {
  provider = aws.primary

  api_id                 = aws_apigatewayv2_api.primary.id
  integration_type       = "AWS_PROXY"
  integration_uri        = aws_lambda_function.app_primary.invoke_arn
  payload_format_version = "1.0" # the app reads the REST-style proxy event (httpMethod, path)
}

resource "aws_apigatewayv2_integration" "secondary" {
  provider = aws.secondary

  api_id                 = aws_apigatewayv2_api.secondary.id
  integration_type       = "AWS_PROXY"
  integration_uri        = aws_lambda_function.app_secondary.invoke_arn
  payload_format_version = "1.0" # the app reads the REST-style proxy event (httpMethod, path)
}

resource "aws_apigatewayv2_route" "primary" {
  provider = aws.primary
  #checkov:skip=CKV_AWS_309:The workload is a public API: Route 53 health checkers and CloudFront must reach /health without credentials.

  api_id    = aws_apigatewayv2_api.primary.id
  route_key = "$default"
  target    = "integrations/${aws_apigatewayv2_integration.primary.id}"
}

resource "aws_apigatewayv2_route" "secondary" {
  provider = aws.secondary
  #checkov:skip=CKV_AWS_309:The workload is a public API: Route 53 health checkers and CloudFront must reach /health without credentials.

  api_id    = aws_apigatewayv2_api.secondary.id
  route_key = "$default"
  target    = "integrations/${aws_apigatewayv2_integration.secondary.id}"
}

resource "aws_apigatewayv2_stage" "primary" {
  provider = aws.primary

  api_id      = aws_apigatewayv2_api.primary.id
  name        = "$default"
  auto_deploy = true

  access_log_settings {
    destination_arn = aws_cloudwatch_log_group.api_primary.arn
    format          = local.api_access_log_format
  }

  default_route_settings {
    throttling_burst_limit = 500
    throttling_rate_limit  = 1000
  }

  tags = local.tags
}

resource "aws_apigatewayv2_stage" "secondary" {
  provider = aws.secondary

  api_id      = aws_apigatewayv2_api.secondary.id
  name        = "$default"
  auto_deploy = true

  access_log_settings {
    destination_arn = aws_cloudwatch_log_group.api_secondary.arn
    format          = local.api_access_log_format
  }

  default_route_settings {
    throttling_burst_limit = 500
    throttling_rate_limit  = 1000
  }

  tags = local.tags
}

resource "aws_lambda_permission" "api_primary" {
  provider = aws.primary

  statement_id  = "AllowHttpApiInvoke"
  action        = "lambda:InvokeFunction"
  function_name = aws_lambda_function.app_primary.function_name
  principal     = "apigateway.amazonaws.com"
  source_arn    = "${aws_apigatewayv2_api.primary.execution_arn}/*/*"
}

resource "aws_lambda_permission" "api_secondary" {
  provider = aws.secondary

  statement_id  = "AllowHttpApiInvoke"
  action        = "lambda:InvokeFunction"
  function_name = aws_lambda_function.app_secondary.function_name
  principal     = "apigateway.amazonaws.com"
  source_arn    = "${aws_apigatewayv2_api.secondary.execution_arn}/*/*"
}

locals {
  app_urls = {
    primary   = aws_apigatewayv2_api.primary.api_endpoint
    secondary = aws_apigatewayv2_api.secondary.api_endpoint
  }
  app_hosts = { for key, url in local.app_urls : key => trimprefix(url, "https://") }
}

################################################################################
# Failover orchestrator and health check aggregator (both regions, one artifact)
################################################################################

resource "aws_lambda_function" "orchestrator_primary" {
  provider = aws.primary
  #checkov:skip=CKV_AWS_272:The artifact is built reproducibly by infra/scripts/build-lambda-zips.sh and pinned by source_code_hash; no signing profile exists for it.
  #checkov:skip=CKV_AWS_117:Deliberately outside any VPC: the failover path must reach AWS APIs of both regions without depending on NAT gateways or endpoints of the failing region.

  function_name                  = local.function_names.orchestrator
  description                    = "drharness failover orchestrator (${var.primary_region})"
  role                           = aws_iam_role.orchestrator.arn
  runtime                        = var.lambda_runtime
  handler                        = "failover_orchestrator.handler"
  filename                       = var.lambda_harness_zip
  source_code_hash               = local.harness_source_code_hash
  memory_size                    = 256
  timeout                        = 900
  reserved_concurrent_executions = 1 # never two failovers at once
  layers                         = aws_lambda_layer_version.primary[*].arn
  kms_key_arn                    = aws_kms_key.primary.arn

  environment {
    variables = local.harness_environment
  }

  dead_letter_config {
    target_arn = aws_sns_topic.primary.arn
  }

  tracing_config {
    mode = "Active"
  }

  logging_config {
    log_format = "JSON"
    log_group  = aws_cloudwatch_log_group.lambda_primary["orchestrator"].name
  }

  tags = local.tags
}

resource "aws_lambda_function" "orchestrator_secondary" {
  provider = aws.secondary
  #checkov:skip=CKV_AWS_272:The artifact is built reproducibly by infra/scripts/build-lambda-zips.sh and pinned by source_code_hash; no signing profile exists for it.
  #checkov:skip=CKV_AWS_117:Deliberately outside any VPC: the failover path must reach AWS APIs of both regions without depending on NAT gateways or endpoints of the failing region.

  function_name                  = local.function_names.orchestrator
  description                    = "drharness failover orchestrator (${var.secondary_region})"
  role                           = aws_iam_role.orchestrator.arn
  runtime                        = var.lambda_runtime
  handler                        = "failover_orchestrator.handler"
  filename                       = var.lambda_harness_zip
  source_code_hash               = local.harness_source_code_hash
  memory_size                    = 256
  timeout                        = 900
  reserved_concurrent_executions = 1
  layers                         = aws_lambda_layer_version.secondary[*].arn
  kms_key_arn                    = aws_kms_key.secondary.arn

  environment {
    variables = local.harness_environment
  }

  dead_letter_config {
    target_arn = aws_sns_topic.secondary.arn
  }

  tracing_config {
    mode = "Active"
  }

  logging_config {
    log_format = "JSON"
    log_group  = aws_cloudwatch_log_group.lambda_secondary["orchestrator"].name
  }

  tags = local.tags
}

resource "aws_lambda_function" "aggregator_primary" {
  provider = aws.primary
  #checkov:skip=CKV_AWS_272:The artifact is built reproducibly by infra/scripts/build-lambda-zips.sh and pinned by source_code_hash; no signing profile exists for it.
  #checkov:skip=CKV_AWS_117:Deliberately outside any VPC: it probes both regions' public endpoints and APIs and must not share the fate of one region's network.

  function_name                  = local.function_names.aggregator
  description                    = "drharness health check aggregator (${var.primary_region})"
  role                           = aws_iam_role.aggregator.arn
  runtime                        = var.lambda_runtime
  handler                        = "health_check_aggregator.handler"
  filename                       = var.lambda_harness_zip
  source_code_hash               = local.harness_source_code_hash
  memory_size                    = 256
  timeout                        = 60
  reserved_concurrent_executions = 2
  layers                         = aws_lambda_layer_version.primary[*].arn
  kms_key_arn                    = aws_kms_key.primary.arn

  environment {
    variables = local.harness_environment
  }

  dead_letter_config {
    target_arn = aws_sns_topic.primary.arn
  }

  tracing_config {
    mode = "Active"
  }

  logging_config {
    log_format = "JSON"
    log_group  = aws_cloudwatch_log_group.lambda_primary["aggregator"].name
  }

  tags = local.tags
}

resource "aws_lambda_function" "aggregator_secondary" {
  provider = aws.secondary
  #checkov:skip=CKV_AWS_272:The artifact is built reproducibly by infra/scripts/build-lambda-zips.sh and pinned by source_code_hash; no signing profile exists for it.
  #checkov:skip=CKV_AWS_117:Deliberately outside any VPC: it probes both regions' public endpoints and APIs and must not share the fate of one region's network.

  function_name                  = local.function_names.aggregator
  description                    = "drharness health check aggregator (${var.secondary_region})"
  role                           = aws_iam_role.aggregator.arn
  runtime                        = var.lambda_runtime
  handler                        = "health_check_aggregator.handler"
  filename                       = var.lambda_harness_zip
  source_code_hash               = local.harness_source_code_hash
  memory_size                    = 256
  timeout                        = 60
  reserved_concurrent_executions = 2
  layers                         = aws_lambda_layer_version.secondary[*].arn
  kms_key_arn                    = aws_kms_key.secondary.arn

  environment {
    variables = local.harness_environment
  }

  dead_letter_config {
    target_arn = aws_sns_topic.secondary.arn
  }

  tracing_config {
    mode = "Active"
  }

  logging_config {
    log_format = "JSON"
    log_group  = aws_cloudwatch_log_group.lambda_secondary["aggregator"].name
  }

  tags = local.tags
}

################################################################################
# Triggers: the aggregator runs on a schedule in each region; the orchestrator is woken by the
# peer-health alarm of its own region (through that region's SNS topic)
################################################################################

resource "aws_scheduler_schedule" "aggregator_primary" {
  provider = aws.primary

  name                = "${var.name_prefix}-health-check-aggregator"
  description         = "Publish drharness/RegionHealthy for both regions as seen from ${var.primary_region}"
  schedule_expression = var.aggregator_schedule_expression
  kms_key_arn         = aws_kms_key.primary.arn

  flexible_time_window {
    mode = "OFF"
  }

  target {
    arn      = aws_lambda_function.aggregator_primary.arn
    role_arn = aws_iam_role.scheduler_aggregator.arn
    input    = jsonencode({ source = "drharness.scheduler", observer_region = var.primary_region })

    retry_policy {
      maximum_event_age_in_seconds = 60
      maximum_retry_attempts       = 0
    }
  }
}

resource "aws_scheduler_schedule" "aggregator_secondary" {
  provider = aws.secondary

  name                = "${var.name_prefix}-health-check-aggregator"
  description         = "Publish drharness/RegionHealthy for both regions as seen from ${var.secondary_region}"
  schedule_expression = var.aggregator_schedule_expression
  kms_key_arn         = aws_kms_key.secondary.arn

  flexible_time_window {
    mode = "OFF"
  }

  target {
    arn      = aws_lambda_function.aggregator_secondary.arn
    role_arn = aws_iam_role.scheduler_aggregator.arn
    input    = jsonencode({ source = "drharness.scheduler", observer_region = var.secondary_region })

    retry_policy {
      maximum_event_age_in_seconds = 60
      maximum_retry_attempts       = 0
    }
  }
}

resource "aws_sns_topic_subscription" "orchestrator_primary" {
  provider = aws.primary
  count    = var.enable_automated_failover ? 1 : 0

  topic_arn           = aws_sns_topic.primary.arn
  protocol            = "lambda"
  endpoint            = aws_lambda_function.orchestrator_primary.arn
  filter_policy_scope = "MessageBody"
  filter_policy = jsonencode({
    AlarmName     = [aws_cloudwatch_metric_alarm.peer_health_primary.alarm_name]
    NewStateValue = ["ALARM"]
  })
}

resource "aws_sns_topic_subscription" "orchestrator_secondary" {
  provider = aws.secondary
  count    = var.enable_automated_failover ? 1 : 0

  topic_arn           = aws_sns_topic.secondary.arn
  protocol            = "lambda"
  endpoint            = aws_lambda_function.orchestrator_secondary.arn
  filter_policy_scope = "MessageBody"
  filter_policy = jsonencode({
    AlarmName     = [aws_cloudwatch_metric_alarm.peer_health_secondary.alarm_name]
    NewStateValue = ["ALARM"]
  })
}

resource "aws_lambda_permission" "sns_orchestrator_primary" {
  provider = aws.primary
  count    = var.enable_automated_failover ? 1 : 0

  statement_id  = "AllowPeerHealthAlarmTopic"
  action        = "lambda:InvokeFunction"
  function_name = aws_lambda_function.orchestrator_primary.function_name
  principal     = "sns.amazonaws.com"
  source_arn    = aws_sns_topic.primary.arn
}

resource "aws_lambda_permission" "sns_orchestrator_secondary" {
  provider = aws.secondary
  count    = var.enable_automated_failover ? 1 : 0

  statement_id  = "AllowPeerHealthAlarmTopic"
  action        = "lambda:InvokeFunction"
  function_name = aws_lambda_function.orchestrator_secondary.function_name
  principal     = "sns.amazonaws.com"
  source_arn    = aws_sns_topic.secondary.arn
}
