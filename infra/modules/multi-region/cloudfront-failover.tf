################################################################################
# Edge distribution: origin group over the two regional app origins, failing over on 5xx
################################################################################

locals {
  # AWS managed policies (ids are fixed and documented by CloudFront).
  cf_cache_policy_caching_disabled          = "4135ea2d-6df8-44a3-9df3-4b5a84be39ad"
  cf_origin_request_all_viewer_except_host  = "b689b0a8-53d0-40ab-baf2-68738e2966ac" # API Gateway needs its own Host header
  cf_response_headers_security_headers      = "67f7725c-6f97-4210-82d7-5512b31e9d03"
  cf_origin_ids                             = { primary = "app-${var.primary_region}", secondary = "app-${var.secondary_region}" }
  cf_origin_group_id                        = "app-failover"
  cf_write_origin_id                        = "app-dns-failover"
  cf_write_origin_domain                    = var.create_app_custom_domain ? var.record_name : local.app_hosts.primary
  cf_origin_failover_status_codes           = [500, 502, 503, 504]
  cf_origin_connection_attempts_per_failure = 2
}

resource "aws_cloudfront_distribution" "this" {
  provider = aws.primary
  #checkov:skip=CKV2_AWS_47:WAF rules (incl. Log4j) come from the organisation web ACL passed as cloudfront_web_acl_arn (Firewall Manager).
  #checkov:skip=CKV_AWS_86:Standard logs need an ACL-enabled bucket; request evidence comes from the API access logs of each region and the harness history.
  #checkov:skip=CKV_AWS_174:Served on the default *.cloudfront.net certificate (no alias); CloudFront fixes its TLS policy. Origins are https-only with TLSv1.2.
  #checkov:skip=CKV2_AWS_42:Same as CKV_AWS_174: no custom alias, so no custom certificate.
  #checkov:skip=CKV_AWS_305:API origin: there is no root object to serve.
  #checkov:skip=CKV2_AWS_32:A response headers policy IS attached: the AWS-managed SecurityHeadersPolicy, by id (response_headers_policy_id); checkov only recognises a resource/data connection.
  #checkov:skip=CKV_AWS_374:No geo restriction: the workload is global; DR must not depend on viewer location.

  enabled         = true
  comment         = "${var.name_prefix} edge with regional failover"
  is_ipv6_enabled = true
  http_version    = "http2and3"
  price_class     = var.cloudfront_price_class
  web_acl_id      = var.cloudfront_web_acl_arn

  dynamic "origin" {
    for_each = local.cf_origin_ids
    content {
      origin_id           = origin.value
      domain_name         = local.app_hosts[origin.key]
      connection_attempts = local.cf_origin_connection_attempts_per_failure
      connection_timeout  = 5

      custom_origin_config {
        http_port              = 80
        https_port             = 443
        origin_protocol_policy = "https-only"
        origin_ssl_protocols   = ["TLSv1.2"]
        origin_read_timeout    = 30
      }
    }
  }

  # Writes follow the Route 53 failover record (origin groups never fail over POST/PUT/PATCH/DELETE).
  origin {
    origin_id           = local.cf_write_origin_id
    domain_name         = local.cf_write_origin_domain
    connection_attempts = local.cf_origin_connection_attempts_per_failure
    connection_timeout  = 5

    custom_origin_config {
      http_port              = 80
      https_port             = 443
      origin_protocol_policy = "https-only"
      origin_ssl_protocols   = ["TLSv1.2"]
      origin_read_timeout    = 30
    }
  }

  origin_group {
    origin_id = local.cf_origin_group_id

    failover_criteria {
      status_codes = local.cf_origin_failover_status_codes
    }

    member {
      origin_id = local.cf_origin_ids.primary
    }

    member {
      origin_id = local.cf_origin_ids.secondary
    }
  }

  default_cache_behavior {
    target_origin_id           = local.cf_origin_group_id
    allowed_methods            = ["GET", "HEAD", "OPTIONS"]
    cached_methods             = ["GET", "HEAD"]
    viewer_protocol_policy     = "https-only"
    compress                   = true
    cache_policy_id            = local.cf_cache_policy_caching_disabled
    origin_request_policy_id   = local.cf_origin_request_all_viewer_except_host
    response_headers_policy_id = local.cf_response_headers_security_headers
  }

  dynamic "ordered_cache_behavior" {
    for_each = var.edge_write_path_patterns
    content {
      path_pattern               = ordered_cache_behavior.value
      target_origin_id           = local.cf_write_origin_id
      allowed_methods            = ["GET", "HEAD", "OPTIONS", "PUT", "POST", "PATCH", "DELETE"]
      cached_methods             = ["GET", "HEAD"]
      viewer_protocol_policy     = "https-only"
      compress                   = true
      cache_policy_id            = local.cf_cache_policy_caching_disabled
      origin_request_policy_id   = local.cf_origin_request_all_viewer_except_host
      response_headers_policy_id = local.cf_response_headers_security_headers
    }
  }

  restrictions {
    geo_restriction {
      restriction_type = "none"
    }
  }

  viewer_certificate {
    cloudfront_default_certificate = true
  }

  tags = local.tags
}
