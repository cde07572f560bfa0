output "drharness_target" {
  description = "The aws Target contract (schema drharness.target/1) read by `drharness ... --target aws --env <this dir>`."
  value       = module.multi_region.drharness_target
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
