# Copy to terraform.tfvars and edit. The PCRs come from the registry:
#   glassbox kms-policy --release ID --tfvars > release.auto.tfvars.json
region    = "eu-west-1"
ssh_cidr  = "203.0.113.7/32"
dist_file = "../../glassbox-dist.tar.gz" # git archive --format=tar.gz -o glassbox-dist.tar.gz HEAD
# eif_file  = "../../release-1.0/app.eif"
# bridge_cidrs = ["198.51.100.0/24"]   # your application servers
# key_name     = "my-keypair"
