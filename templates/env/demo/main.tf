# Every object carries the platform labels (Kubernetes) or tags (cloud) so that it can be
# attributed and, if it leaks, found by a sweeper (DOMAIN.md R-ENV-5 and section 4).
locals {
  prefix = var.plat_label_prefix

  # Label values may not contain ':' or '@', so the owner and the expiry get a label-safe form
  # here and their exact value in the annotations/tags below.
  labels = {
    "app.kubernetes.io/part-of"    = "plat-env-${var.plat_env}"
    "app.kubernetes.io/managed-by" = "plat"
    "${local.prefix}/tier"         = "ephemeral"
    "${local.prefix}/suite"        = "demo"
    "${local.prefix}/topology"     = "single-cluster"
    "${local.prefix}/workspace-id" = var.plat_env
    "${local.prefix}/tenant-id"    = var.plat_tenant
    "${local.prefix}/account-id"   = var.plat_account
    "${local.prefix}/owner"        = replace(var.plat_owner, "/[^A-Za-z0-9._-]/", "_")
    "${local.prefix}/expires-at"   = formatdate("YYYYMMDD'T'hhmmss'Z'", var.plat_expires_at)
  }

  annotations = {
    "${local.prefix}/contract-version" = "1"
    "${local.prefix}/owner"            = var.plat_owner
    "${local.prefix}/expires-at"       = var.plat_expires_at
  }

  tags = merge(local.labels, local.annotations, { "managed-by" = "plat" })
}

resource "terraform_data" "kubernetes_cluster" {
  input = {
    kind         = "kubernetes-cluster"
    name         = "plat-${var.plat_env}"
    region       = var.region
    version      = var.kubernetes_version
    node_count   = var.node_count
    api_endpoint = "https://api.${var.plat_env}.${var.base_domain}:6443"
    tags         = merge(local.tags, { "${local.prefix}/module" = "kubernetes-cluster" })
  }
}

resource "terraform_data" "load_balancer" {
  input = {
    kind     = "load-balancer"
    name     = "plat-${var.plat_env}-lb"
    region   = var.region
    hostname = "${var.plat_env}.${var.base_domain}"
    target   = terraform_data.kubernetes_cluster.output.name
    tags     = merge(local.tags, { "${local.prefix}/module" = "load-balancer" })
  }
}

resource "terraform_data" "key_vault" {
  input = {
    kind   = "key-vault"
    name   = "kv-${var.plat_env}"
    region = var.region
    uri    = "https://kv-${var.plat_env}.vault.${var.base_domain}/"
    tags   = merge(local.tags, { "${local.prefix}/module" = "key-vault" })
  }
}

resource "terraform_data" "argocd" {
  input = {
    kind        = "helm-release"
    chart       = "argo-cd"
    namespace   = "argocd"
    cluster     = terraform_data.kubernetes_cluster.output.name
    replicas    = var.argocd_ha ? 3 : 1
    url         = "https://argocd.${terraform_data.load_balancer.output.hostname}"
    secret_ref  = "${terraform_data.key_vault.output.uri}secrets/argocd-admin"
    labels      = merge(local.labels, { "app.kubernetes.io/name" = "argocd" })
    annotations = merge(local.annotations, { "${local.prefix}/module" = "argocd" })
  }
}
