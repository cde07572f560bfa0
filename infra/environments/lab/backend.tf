# The lab's state is local and throwaway (ignored by git); `drharness lab down` removes the lab.
terraform {
  backend "local" {
    path = "terraform.tfstate"
  }
}
