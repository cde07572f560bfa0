# State lives in the DR region (us-west-2), so that Terraform can still read and change the stack
# while us-east-1 is down. The bucket and lock table are bootstrapped outside this stack.
terraform {
  backend "s3" {
    bucket         = "drharness-tfstate-prod"
    key            = "prod-us-west-2/terraform.tfstate"
    region         = "us-west-2"
    dynamodb_table = "drharness-tfstate-lock"
    encrypt        = true
  }
}
