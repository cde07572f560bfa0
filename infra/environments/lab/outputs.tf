output "drharness_target" {
  description = "The aws Target contract (schema drharness.target/1) read by `drharness ... --target aws --env <this dir>`. In the lab, each region's dns_answer is its app host (the lab's DNS answers the failover CNAME with the address of the API it names) and aggregator_period_s is how often the lab fires the aggregator schedule."
  value = merge(module.multi_region.drharness_target, {
    aggregator_period_s = var.lab_aggregator_period_s
    regions = {
      for region, info in module.multi_region.drharness_target.regions : region => merge(info, {
        dns_answer = regex("^https?://([^/:]+)", info.app_url)[0]
      })
    }
  })
}

output "slo" {
  description = "Recovery objectives: rto_s, rpo_s, failback_s."
  value       = module.multi_region.slo
}

output "edge_url" {
  description = "CloudFront URL with origin failover."
  value       = module.multi_region.edge_url
}

output "app_urls" {
  description = "Regional app base URL per region."
  value       = module.multi_region.app_urls
}

output "hosted_zone_name_servers" {
  description = "Name servers to delegate domain_name to (when the zone is created here)."
  value       = module.multi_region.hosted_zone_name_servers
}

output "alarm_names" {
  description = "CloudWatch alarm names per region."
  value       = module.multi_region.alarm_names
}

output "drill" {
  description = "Scheduled drill (CodeBuild project, schedule, region)."
  value       = module.multi_region.drill
}

output "aurora_clusters" {
  description = "Per region: cluster_id, cluster_arn, writer_endpoint, reader_endpoint (the lab reads the ARNs)."
  value       = module.multi_region.aurora_clusters
}

output "iam_role_arns" {
  description = "ARNs of the stack's IAM roles (the lab reads them)."
  value       = module.multi_region.iam_role_arns
}
