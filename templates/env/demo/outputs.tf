output "kube_api_url" {
  description = "Kubernetes API endpoint of the environment's cluster."
  value       = terraform_data.kubernetes_cluster.output.api_endpoint
}

output "load_balancer_hostname" {
  value = terraform_data.load_balancer.output.hostname
}

output "key_vault_uri" {
  value = terraform_data.key_vault.output.uri
}

output "argocd_url" {
  value = terraform_data.argocd.output.url
}

# Derived from the inputs and the Argo CD object's id, so it is stable for the environment's life
# and differs between environments; a real template would read it from the key vault.
output "argocd_admin_password" {
  description = "Initial Argo CD admin password."
  sensitive   = true
  value       = substr(sha256("${var.plat_tenant}/${var.plat_account}/${var.plat_env}/${terraform_data.argocd.id}"), 0, 24)
}

output "labels" {
  description = "Platform labels carried by every object of the environment."
  value       = local.labels
}
