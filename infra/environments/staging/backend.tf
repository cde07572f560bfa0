# State lives in the DR region (us-west-2), so that Terraform (and the drill, which reads this
# state through `terraform output -json`) still works while us-east-1 is down.
terraform {
  backend "s3" {
    bucket         = "drharness-tfstate-staging"
    key            = "staging/terraform.tfstate"
    region         = "us-west-2"
    dynamodb_table = "drharness-tfstate-lock"
    encrypt        = true
  }
}
