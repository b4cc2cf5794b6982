# Variables plat always passes (see plat-template.yaml).
variable "plat_env" {
  type        = string
  description = "Environment name (workspace id)."
  validation {
    condition     = can(regex("^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$", var.plat_env))
    error_message = "plat_env must be a DNS label: lowercase letters, digits and '-'."
  }
}

variable "plat_owner" {
  type        = string
  description = "User who owns the environment."
}

variable "plat_account" {
  type        = string
  description = "Account the environment belongs to."
}

variable "plat_tenant" {
  type        = string
  description = "Tenant the account belongs to."
}

variable "plat_expires_at" {
  type        = string
  description = "RFC 3339 UTC time after which the environment is destroyed."
  validation {
    condition     = can(formatdate("YYYY", var.plat_expires_at))
    error_message = "plat_expires_at must be an RFC 3339 timestamp."
  }
}

variable "plat_label_prefix" {
  type        = string
  default     = "appgear.io"
  description = "Prefix of the platform labels (DOMAIN.md section 4)."
}

# Template parameters (plat-template.yaml).
variable "node_count" {
  type    = number
  default = 2
}

variable "kubernetes_version" {
  type    = string
  default = "1.34"
}

variable "region" {
  type    = string
  default = "eu-west-1"
}

variable "base_domain" {
  type    = string
  default = "envs.example.test"
}

variable "argocd_ha" {
  type    = bool
  default = false
}
