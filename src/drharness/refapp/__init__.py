"""The reference regional app: the workload under test, deployed as a Lambda in each region.

Not part of the harness: the lab serves it per region, Terraform packages it. It stores each
order in Aurora (PostgreSQL), DynamoDB and S3, and answers with the region that served it.
"""
