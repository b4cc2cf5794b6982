//! The security baseline for Terraform plans and states on AWS, Azure and GCP: admin ports open
//! to the world, unencrypted storage and databases, public buckets and blobs, disabled logging,
//! IAM wildcards, key rotation and public Kubernetes API endpoints.
//!
//! Each check reads one resource's values as `terraform show -json` gives them (nested blocks
//! are arrays of objects). A value that is absent is unknown until apply and is never guessed
//! at; a value that is `null` is unset, so the provider's default applies.

use std::borrow::Cow;

use serde_json::Value;

use super::ScanSink;
use super::Severity;
use super::rules::{Emitter, RuleInfo, Target};

macro_rules! rules {
    ($( $konst:ident = $id:literal, $name:literal, $severity:ident, $description:literal, $fix:literal; )*) => {
        $( pub const $konst: &str = $id; )*
        pub(crate) static CATALOGUE: &[RuleInfo] = &[
            $( RuleInfo {
                id: Cow::Borrowed($id),
                name: Cow::Borrowed($name),
                default_severity: Severity::$severity,
                target: Target::Terraform,
                description: Cow::Borrowed($description),
                fix: Cow::Borrowed($fix),
            }, )*
        ];
    };
}

rules! {
    AWS_ADMIN_PORT = "PLAT101", "aws-admin-port-open-to-world", Error,
        "A security group lets the whole internet (0.0.0.0/0 or ::/0) reach SSH (22) or RDP (3389).",
        "Restrict the ingress rule to known CIDRs, or use SSM Session Manager or a bastion instead of an open admin port.";
    AWS_S3_PUBLIC_ACL = "PLAT102", "aws-s3-public-acl", Error,
        "An S3 bucket ACL grants public-read or public-read-write.",
        "Use the private ACL (or none, with object ownership BucketOwnerEnforced) and share through CloudFront or presigned URLs.";
    AWS_S3_PUBLIC_ACCESS = "PLAT103", "aws-s3-public-access-not-blocked", Error,
        "An S3 public access block leaves one of block_public_acls, block_public_policy, ignore_public_acls or restrict_public_buckets off.",
        "Set all four settings of aws_s3_bucket_public_access_block (or the account-level block) to true.";
    AWS_RDS_UNENCRYPTED = "PLAT104", "aws-database-unencrypted", Error,
        "An RDS instance or cluster stores its data unencrypted.",
        "Set storage_encrypted = true (optionally with kms_key_id); existing databases need a snapshot-and-restore.";
    AWS_RDS_PUBLIC = "PLAT105", "aws-database-public", Error,
        "An RDS instance is publicly accessible from the internet.",
        "Set publicly_accessible = false and reach the database from inside the VPC.";
    AWS_STORAGE_UNENCRYPTED = "PLAT106", "aws-storage-unencrypted", Error,
        "An EBS volume, an instance's block device or an EFS file system is not encrypted.",
        "Set encrypted = true (or enable EBS encryption by default for the account).";
    AWS_TRAIL_OFF = "PLAT107", "aws-cloudtrail-logging-off", Error,
        "A CloudTrail trail has logging turned off.",
        "Set enable_logging = true.";
    AWS_IAM_WILDCARD = "PLAT108", "aws-iam-wildcard-admin", Error,
        "An IAM policy allows every action (*) on every resource (*): full administrator rights.",
        "Grant only the actions and resources the role needs; use AWS managed job-function policies as a start.";
    AWS_KMS_ROTATION = "PLAT109", "aws-kms-rotation-off", Warning,
        "A symmetric KMS key does not rotate its key material.",
        "Set enable_key_rotation = true.";
    AWS_EKS_PUBLIC = "PLAT110", "aws-eks-public-endpoint", Error,
        "An EKS cluster's API endpoint is public and open to 0.0.0.0/0.",
        "Set vpc_config.endpoint_public_access = false, or restrict public_access_cidrs to known networks.";
    AWS_IMDSV1 = "PLAT111", "aws-imdsv1-allowed", Warning,
        "An instance or launch template allows IMDSv1, whose credentials SSRF can steal.",
        "Set metadata_options.http_tokens = \"required\".";
    AWS_LB_LOGS = "PLAT112", "aws-lb-access-logs-off", Warning,
        "A load balancer writes no access logs.",
        "Add an access_logs block with enabled = true and an S3 bucket.";
    AWS_EKS_LOGS = "PLAT113", "aws-eks-control-plane-logs-off", Warning,
        "An EKS cluster sends no control-plane logs (api, audit, authenticator) to CloudWatch.",
        "Set enabled_cluster_log_types = [\"api\", \"audit\", \"authenticator\"].";
    AWS_TRAIL_VALIDATION = "PLAT114", "aws-cloudtrail-log-validation-off", Warning,
        "A CloudTrail trail does not validate its log files, so tampering goes unnoticed.",
        "Set enable_log_file_validation = true.";
    AZURE_ADMIN_PORT = "PLAT120", "azure-admin-port-open-to-world", Error,
        "A network security rule allows inbound SSH (22) or RDP (3389) from any source (*, Internet, 0.0.0.0/0).",
        "Restrict source_address_prefix to known ranges, or use Azure Bastion or just-in-time access.";
    AZURE_PUBLIC_BLOB = "PLAT121", "azure-storage-public-blob", Error,
        "A storage account allows public blob access, or a container is public (blob or container access).",
        "Set allow_nested_items_to_be_public = false and container_access_type = \"private\".";
    AZURE_STORAGE_TRANSPORT = "PLAT122", "azure-storage-insecure-transport", Error,
        "A storage account accepts plain HTTP or TLS older than 1.2.",
        "Set https_traffic_only_enabled = true and min_tls_version = \"TLS1_2\".";
    AZURE_DB_FIREWALL = "PLAT123", "azure-database-open-to-world", Error,
        "A database firewall rule opens the server to every address (0.0.0.0 to 255.255.255.255).",
        "Allow only the client ranges that need the database, or use private endpoints.";
    AZURE_KV_PURGE = "PLAT124", "azure-key-vault-purge-protection-off", Warning,
        "A Key Vault can be purged during its retention period, so deleted keys and secrets can be lost for good.",
        "Set purge_protection_enabled = true.";
    AZURE_KEY_ROTATION = "PLAT125", "azure-key-rotation-off", Warning,
        "A Key Vault key has no rotation policy.",
        "Add a rotation_policy block with automatic rotation (e.g. time_before_expiry = \"P30D\").";
    AZURE_AKS_PUBLIC = "PLAT126", "azure-aks-public-api", Error,
        "An AKS cluster's API server is public with no authorized IP ranges.",
        "Set private_cluster_enabled = true, or list authorized_ip_ranges in api_server_access_profile.";
    AZURE_FLOW_LOGS = "PLAT127", "azure-flow-log-disabled", Warning,
        "A network watcher flow log is disabled.",
        "Set enabled = true on the flow log (and a retention policy).";
    AZURE_VM_PASSWORD = "PLAT128", "azure-vm-password-auth", Error,
        "A Linux virtual machine accepts password logins over SSH.",
        "Set disable_password_authentication = true and use admin_ssh_key.";
    AZURE_SQL_AUDIT = "PLAT129", "azure-sql-auditing-off", Warning,
        "An Azure SQL auditing policy is disabled.",
        "Set enabled = true on the extended auditing policy.";
    AZURE_ROLE_WILDCARD = "PLAT130", "azure-custom-role-wildcard", Error,
        "A custom role definition allows every action (*).",
        "List only the actions the role needs, or use a built-in role.";
    GCP_ADMIN_PORT = "PLAT140", "gcp-admin-port-open-to-world", Error,
        "A firewall rule allows ingress to SSH (22) or RDP (3389) from 0.0.0.0/0.",
        "Restrict source_ranges, or use IAP TCP forwarding (35.235.240.0/20).";
    GCP_BUCKET_PUBLIC = "PLAT141", "gcp-bucket-public", Error,
        "A Cloud Storage bucket grants access to allUsers or allAuthenticatedUsers.",
        "Remove the public member; share with signed URLs or named principals.";
    GCP_BUCKET_ACL = "PLAT142", "gcp-bucket-fine-grained-acl", Warning,
        "A Cloud Storage bucket uses fine-grained ACLs instead of uniform bucket-level access.",
        "Set uniform_bucket_level_access = true.";
    GCP_SQL_PUBLIC = "PLAT143", "gcp-sql-open-to-world", Error,
        "A Cloud SQL instance authorizes 0.0.0.0/0.",
        "Remove the network, use private IP or the Cloud SQL Auth Proxy.";
    GCP_SQL_SSL = "PLAT144", "gcp-sql-unencrypted-connections", Warning,
        "A Cloud SQL instance accepts unencrypted connections.",
        "Set ip_configuration.ssl_mode = \"ENCRYPTED_ONLY\" (or require_ssl = true).";
    GCP_KMS_ROTATION = "PLAT145", "gcp-kms-rotation-off", Warning,
        "A Cloud KMS key does not rotate, or rotates less often than every 90 days.",
        "Set rotation_period to 7776000s (90 days) or less.";
    GCP_GKE_PUBLIC = "PLAT146", "gcp-gke-public-endpoint", Error,
        "A GKE cluster's control plane is public with no authorized networks.",
        "Enable private_cluster_config.enable_private_endpoint, or add master_authorized_networks_config.";
    GCP_GKE_LOGS = "PLAT147", "gcp-gke-logging-off", Warning,
        "A GKE cluster has logging or monitoring turned off.",
        "Remove logging_service/monitoring_service = \"none\" (the defaults send to Cloud Logging and Monitoring).";
    GCP_IAM_PUBLIC = "PLAT148", "gcp-iam-public-member", Error,
        "An IAM binding grants a role to allUsers or allAuthenticatedUsers.",
        "Grant roles to named users, groups or service accounts only.";
    GCP_FLOW_LOGS = "PLAT149", "gcp-subnet-flow-logs-off", Warning,
        "A subnetwork has no VPC flow logs.",
        "Add a log_config block to the subnetwork.";
    GCP_PRIMITIVE_ROLE = "PLAT150", "gcp-primitive-role", Warning,
        "A project IAM binding grants the basic Owner or Editor role, which allows almost everything.",
        "Grant predefined or custom roles scoped to the job.";
}

const ADMIN_PORTS: &[(u64, &str)] = &[(22, "SSH"), (3389, "RDP")];
const WORLD: &[&str] = &["0.0.0.0/0", "::/0", "*", "0.0.0.0", "internet", "any"];

fn is_world(source: &str) -> bool {
    WORLD.iter().any(|w| source.eq_ignore_ascii_case(w))
}

/// Nested blocks: JSON arrays of objects (or, in hand-written input, a single object).
fn blocks<'v>(values: &'v Value, key: &str) -> Vec<&'v Value> {
    match values.get(key) {
        Some(Value::Array(items)) => items.iter().filter(|i| i.is_object()).collect(),
        Some(object @ Value::Object(_)) => vec![object],
        _ => Vec::new(),
    }
}

fn strings(value: Option<&Value>) -> Vec<&str> {
    match value {
        Some(Value::String(s)) => vec![s.as_str()],
        Some(Value::Array(items)) => items.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    }
}

fn str_of<'v>(values: &'v Value, key: &str) -> Option<&'v str> {
    values.get(key).and_then(Value::as_str)
}

/// Known and explicitly true.
fn is_true(values: &Value, key: &str) -> bool {
    values.get(key).and_then(Value::as_bool) == Some(true)
}

/// Known and false, or unset (null) where the default is off. Absent means unknown: not off.
fn is_off(values: &Value, key: &str) -> bool {
    matches!(values.get(key), Some(Value::Bool(false) | Value::Null))
}

fn number(value: Option<&Value>) -> Option<u64> {
    match value? {
        Value::Number(n) => n.as_u64().or_else(|| n.as_i64().map(|i| i.max(0) as u64)),
        Value::String(s) => s.parse().ok(),
        _ => None,
    }
}

/// `22`, `20-30`, `*`: the ports a range covers.
fn port_range(text: &str) -> Option<(u64, u64)> {
    let text = text.trim();
    if text == "*" {
        return Some((0, 65535));
    }
    match text.split_once('-') {
        Some((from, to)) => Some((from.trim().parse().ok()?, to.trim().parse().ok()?)),
        None => {
            let port = text.parse().ok()?;
            Some((port, port))
        }
    }
}

fn open_admin_ports(ranges: &[(u64, u64)]) -> Vec<&'static str> {
    ADMIN_PORTS
        .iter()
        .filter(|(port, _)| ranges.iter().any(|(from, to)| from <= port && port <= to))
        .map(|(_, name)| *name)
        .collect()
}

/// Runs the baseline over one resource.
// One arm per resource type, holding all of that type's checks, reads better than arms split
// into guards per check (and a guard that fails would silently skip that type's other checks).
#[allow(clippy::collapsible_match)]
pub(crate) fn check(
    resource_type: &str,
    values: &Value,
    emitter: &Emitter<'_>,
    sink: &mut dyn ScanSink,
) {
    let name = emitter.name;
    let mut emit = |rule: &'static str, item: &str, message: String| {
        emitter.emit(sink, rule, item, message, &[]);
    };
    match resource_type {
        "aws_security_group" => {
            for rule in blocks(values, "ingress") {
                aws_ingress(rule, name, &mut emit);
            }
        }
        "aws_security_group_rule" if str_of(values, "type") == Some("ingress") => {
            aws_ingress(values, name, &mut emit);
        }
        "aws_vpc_security_group_ingress_rule" => {
            let sources: Vec<&str> = strings(values.get("cidr_ipv4"))
                .into_iter()
                .chain(strings(values.get("cidr_ipv6")))
                .collect();
            let all = str_of(values, "ip_protocol") == Some("-1");
            let range = if all {
                Some((0, 65535))
            } else {
                number(values.get("from_port")).zip(number(values.get("to_port")))
            };
            if sources.iter().any(|s| is_world(s))
                && let Some(range) = range
            {
                for port in open_admin_ports(&[range]) {
                    emit(
                        AWS_ADMIN_PORT,
                        port,
                        format!("{name} opens {port} to the internet"),
                    );
                }
            }
        }
        "aws_s3_bucket" | "aws_s3_bucket_acl" => {
            if let Some(acl) = str_of(values, "acl")
                && acl.starts_with("public-read")
            {
                emit(
                    AWS_S3_PUBLIC_ACL,
                    acl,
                    format!("{name} grants the {acl} ACL"),
                );
            }
        }
        "aws_s3_bucket_public_access_block" | "aws_s3_account_public_access_block" => {
            let off: Vec<&str> = [
                "block_public_acls",
                "block_public_policy",
                "ignore_public_acls",
                "restrict_public_buckets",
            ]
            .into_iter()
            .filter(|key| is_off(values, key))
            .collect();
            if !off.is_empty() {
                emit(
                    AWS_S3_PUBLIC_ACCESS,
                    "block",
                    format!(
                        "{name} leaves public access open: {} not true",
                        off.join(", ")
                    ),
                );
            }
        }
        "aws_db_instance" | "aws_rds_cluster" => {
            if is_off(values, "storage_encrypted") {
                emit(
                    AWS_RDS_UNENCRYPTED,
                    "storage",
                    format!("{name} stores its data unencrypted"),
                );
            }
            if is_true(values, "publicly_accessible") {
                emit(
                    AWS_RDS_PUBLIC,
                    "public",
                    format!("{name} is publicly accessible"),
                );
            }
        }
        "aws_ebs_volume" | "aws_efs_file_system" => {
            if is_off(values, "encrypted") {
                emit(
                    AWS_STORAGE_UNENCRYPTED,
                    "volume",
                    format!("{name} is not encrypted"),
                );
            }
        }
        "aws_instance" | "aws_launch_template" => {
            for key in ["root_block_device", "ebs_block_device"] {
                for device in blocks(values, key) {
                    if is_off(device, "encrypted") {
                        emit(
                            AWS_STORAGE_UNENCRYPTED,
                            key,
                            format!("{name} has an unencrypted {}", key.replace('_', " ")),
                        );
                    }
                }
            }
            let imds = blocks(values, "metadata_options");
            let required = imds
                .iter()
                .any(|m| str_of(m, "http_tokens") == Some("required"));
            let disabled = imds
                .iter()
                .any(|m| str_of(m, "http_endpoint") == Some("disabled"));
            let known = values.get("metadata_options").is_some();
            if known && !required && !disabled {
                emit(
                    AWS_IMDSV1,
                    "imds",
                    format!("{name} allows IMDSv1 (http_tokens is not \"required\")"),
                );
            }
        }
        "aws_cloudtrail" => {
            if values.get("enable_logging").and_then(Value::as_bool) == Some(false) {
                emit(
                    AWS_TRAIL_OFF,
                    "logging",
                    format!("{name} has logging turned off"),
                );
            }
            if is_off(values, "enable_log_file_validation") {
                emit(
                    AWS_TRAIL_VALIDATION,
                    "validation",
                    format!("{name} does not validate its log files"),
                );
            }
        }
        "aws_iam_policy"
        | "aws_iam_role_policy"
        | "aws_iam_user_policy"
        | "aws_iam_group_policy" => {
            if let Some(policy) = str_of(values, "policy")
                && iam_document_is_admin(policy)
            {
                emit(
                    AWS_IAM_WILDCARD,
                    "policy",
                    format!("{name} allows every action on every resource"),
                );
            }
        }
        "aws_kms_key" => {
            let symmetric = str_of(values, "customer_master_key_spec")
                .is_none_or(|spec| spec == "SYMMETRIC_DEFAULT");
            if symmetric && is_off(values, "enable_key_rotation") {
                emit(
                    AWS_KMS_ROTATION,
                    "rotation",
                    format!("{name} does not rotate its key material"),
                );
            }
        }
        "aws_eks_cluster" => {
            for vpc in blocks(values, "vpc_config") {
                let public =
                    vpc.get("endpoint_public_access").and_then(Value::as_bool) != Some(false);
                let cidrs = strings(vpc.get("public_access_cidrs"));
                let open = cidrs.is_empty() || cidrs.iter().any(|c| is_world(c));
                if public && open && vpc.get("endpoint_public_access").is_some() {
                    emit(
                        AWS_EKS_PUBLIC,
                        "endpoint",
                        format!("{name}'s API endpoint is public and open to 0.0.0.0/0"),
                    );
                }
            }
            if matches!(values.get("enabled_cluster_log_types"), Some(Value::Null))
                || values
                    .get("enabled_cluster_log_types")
                    .and_then(Value::as_array)
                    .is_some_and(Vec::is_empty)
            {
                emit(
                    AWS_EKS_LOGS,
                    "logs",
                    format!("{name} sends no control-plane logs"),
                );
            }
        }
        "aws_lb" | "aws_alb" | "aws_elb" => {
            let logs = blocks(values, "access_logs");
            let enabled = logs
                .iter()
                .any(|l| l.get("enabled").and_then(Value::as_bool) != Some(false));
            if values.get("access_logs").is_some() && !enabled {
                emit(AWS_LB_LOGS, "logs", format!("{name} writes no access logs"));
            }
        }
        "azurerm_network_security_rule" => azure_rule(values, name, &mut emit),
        "azurerm_network_security_group" => {
            for rule in blocks(values, "security_rule") {
                azure_rule(rule, name, &mut emit);
            }
        }
        "azurerm_storage_account" => {
            if is_true(values, "allow_nested_items_to_be_public")
                || is_true(values, "allow_blob_public_access")
            {
                emit(
                    AZURE_PUBLIC_BLOB,
                    "account",
                    format!("{name} allows public blob access"),
                );
            }
            let https_off = ["https_traffic_only_enabled", "enable_https_traffic_only"]
                .iter()
                .any(|key| values.get(*key).and_then(Value::as_bool) == Some(false));
            let old_tls =
                str_of(values, "min_tls_version").is_some_and(|v| v == "TLS1_0" || v == "TLS1_1");
            if https_off || old_tls {
                emit(
                    AZURE_STORAGE_TRANSPORT,
                    "transport",
                    format!("{name} accepts plain HTTP or TLS older than 1.2"),
                );
            }
        }
        "azurerm_storage_container" => {
            if let Some(access) = str_of(values, "container_access_type")
                && access != "private"
            {
                emit(
                    AZURE_PUBLIC_BLOB,
                    access,
                    format!("{name} is public ({access} access)"),
                );
            }
        }
        t if t.starts_with("azurerm_") && t.ends_with("firewall_rule") => {
            if str_of(values, "start_ip_address") == Some("0.0.0.0")
                && str_of(values, "end_ip_address") == Some("255.255.255.255")
            {
                emit(
                    AZURE_DB_FIREWALL,
                    "range",
                    format!("{name} allows every address"),
                );
            }
        }
        "azurerm_key_vault" => {
            if is_off(values, "purge_protection_enabled") {
                emit(
                    AZURE_KV_PURGE,
                    "purge",
                    format!("{name} has no purge protection"),
                );
            }
        }
        "azurerm_key_vault_key" => {
            if blocks(values, "rotation_policy").is_empty()
                && values.get("rotation_policy").is_some()
            {
                emit(
                    AZURE_KEY_ROTATION,
                    "rotation",
                    format!("{name} has no rotation policy"),
                );
            }
        }
        "azurerm_kubernetes_cluster" => {
            let private = is_true(values, "private_cluster_enabled");
            let authorized: Vec<&str> = blocks(values, "api_server_access_profile")
                .iter()
                .flat_map(|p| strings(p.get("authorized_ip_ranges")))
                .chain(strings(values.get("api_server_authorized_ip_ranges")))
                .collect();
            let open = authorized.is_empty() || authorized.iter().any(|r| is_world(r));
            if values.get("private_cluster_enabled").is_some() && !private && open {
                emit(
                    AZURE_AKS_PUBLIC,
                    "api",
                    format!("{name}'s API server is public with no authorized IP ranges"),
                );
            }
        }
        "azurerm_network_watcher_flow_log" => {
            if values.get("enabled").and_then(Value::as_bool) == Some(false) {
                emit(AZURE_FLOW_LOGS, "flow-log", format!("{name} is disabled"));
            }
        }
        "azurerm_linux_virtual_machine" => {
            if values
                .get("disable_password_authentication")
                .and_then(Value::as_bool)
                == Some(false)
            {
                emit(
                    AZURE_VM_PASSWORD,
                    "password",
                    format!("{name} accepts password logins"),
                );
            }
        }
        "azurerm_mssql_server_extended_auditing_policy"
        | "azurerm_mssql_database_extended_auditing_policy" => {
            if values.get("enabled").and_then(Value::as_bool) == Some(false) {
                emit(AZURE_SQL_AUDIT, "audit", format!("{name} has auditing off"));
            }
        }
        "azurerm_role_definition" => {
            let wildcard = blocks(values, "permissions")
                .iter()
                .any(|p| strings(p.get("actions")).contains(&"*"));
            if wildcard {
                emit(
                    AZURE_ROLE_WILDCARD,
                    "actions",
                    format!("{name} allows every action"),
                );
            }
        }
        "google_compute_firewall" => {
            let ingress = str_of(values, "direction").is_none_or(|d| d == "INGRESS");
            let world = strings(values.get("source_ranges"))
                .iter()
                .any(|s| is_world(s));
            if ingress && world {
                let mut ranges = Vec::new();
                for allow in blocks(values, "allow") {
                    let protocol = str_of(allow, "protocol").unwrap_or("all");
                    if !matches!(protocol, "tcp" | "all" | "6") {
                        continue;
                    }
                    let ports = strings(allow.get("ports"));
                    if ports.is_empty() {
                        ranges.push((0, 65535));
                    }
                    ranges.extend(ports.iter().filter_map(|p| port_range(p)));
                }
                for port in open_admin_ports(&ranges) {
                    emit(
                        GCP_ADMIN_PORT,
                        port,
                        format!("{name} opens {port} to 0.0.0.0/0"),
                    );
                }
            }
        }
        "google_storage_bucket" => {
            if is_off(values, "uniform_bucket_level_access") {
                emit(
                    GCP_BUCKET_ACL,
                    "uniform",
                    format!("{name} uses fine-grained ACLs"),
                );
            }
        }
        "google_storage_bucket_access_control" | "google_storage_default_object_access_control" => {
            if strings(values.get("entity"))
                .iter()
                .any(|e| is_public_member(e))
            {
                emit(
                    GCP_BUCKET_PUBLIC,
                    "acl",
                    format!("{name} makes the bucket public"),
                );
            }
        }
        "google_storage_bucket_acl" => {
            if strings(values.get("role_entity"))
                .iter()
                .any(|e| e.contains("allUsers") || e.contains("allAuthenticatedUsers"))
            {
                emit(
                    GCP_BUCKET_PUBLIC,
                    "acl",
                    format!("{name} makes the bucket public"),
                );
            }
        }
        t if t.starts_with("google_")
            && (t.ends_with("_iam_member") || t.ends_with("_iam_binding")) =>
        {
            let members: Vec<&str> = strings(values.get("member"))
                .into_iter()
                .chain(strings(values.get("members")))
                .collect();
            if members.iter().any(|m| is_public_member(m)) {
                let rule = if t.starts_with("google_storage_bucket") {
                    GCP_BUCKET_PUBLIC
                } else {
                    GCP_IAM_PUBLIC
                };
                emit(
                    rule,
                    "member",
                    format!(
                        "{name} grants {} to the public",
                        str_of(values, "role").unwrap_or("a role")
                    ),
                );
            }
            if t.starts_with("google_project_iam")
                && matches!(str_of(values, "role"), Some("roles/owner" | "roles/editor"))
            {
                let role = str_of(values, "role").unwrap_or_default();
                emit(
                    GCP_PRIMITIVE_ROLE,
                    role,
                    format!("{name} grants the basic role {role}"),
                );
            }
        }
        "google_sql_database_instance" => {
            for settings in blocks(values, "settings") {
                for ip in blocks(settings, "ip_configuration") {
                    let open = blocks(ip, "authorized_networks")
                        .iter()
                        .any(|n| str_of(n, "value").is_some_and(is_world));
                    if open {
                        emit(
                            GCP_SQL_PUBLIC,
                            "network",
                            format!("{name} authorizes 0.0.0.0/0"),
                        );
                    }
                    let unencrypted = str_of(ip, "ssl_mode")
                        == Some("ALLOW_UNENCRYPTED_AND_ENCRYPTED")
                        || (ip.get("ssl_mode").is_none_or(Value::is_null)
                            && ip.get("require_ssl").and_then(Value::as_bool) == Some(false));
                    if unencrypted && ip.get("ipv4_enabled").and_then(Value::as_bool) != Some(false)
                    {
                        emit(
                            GCP_SQL_SSL,
                            "ssl",
                            format!("{name} accepts unencrypted connections"),
                        );
                    }
                }
            }
        }
        "google_kms_crypto_key" => {
            let purpose = str_of(values, "purpose").unwrap_or("ENCRYPT_DECRYPT");
            let period = values.get("rotation_period").map(|p| {
                p.as_str()
                    .and_then(|s| s.trim_end_matches('s').parse::<u64>().ok())
            });
            let slow = match period {
                Some(None) => true,
                Some(Some(seconds)) => seconds > 90 * 24 * 3600,
                None => false,
            };
            if purpose == "ENCRYPT_DECRYPT" && slow {
                emit(
                    GCP_KMS_ROTATION,
                    "rotation",
                    format!("{name} rotates less often than every 90 days, or never"),
                );
            }
        }
        "google_container_cluster" => {
            let private_endpoint = blocks(values, "private_cluster_config")
                .iter()
                .any(|p| is_true(p, "enable_private_endpoint"));
            let authorized = blocks(values, "master_authorized_networks_config")
                .iter()
                .any(|c| {
                    !blocks(c, "cidr_blocks").is_empty()
                        && !blocks(c, "cidr_blocks")
                            .iter()
                            .any(|b| str_of(b, "cidr_block").is_some_and(is_world))
                });
            if values.get("master_authorized_networks_config").is_some()
                && !private_endpoint
                && !authorized
            {
                emit(
                    GCP_GKE_PUBLIC,
                    "endpoint",
                    format!("{name}'s control plane is public with no authorized networks"),
                );
            }
            if ["logging_service", "monitoring_service"]
                .iter()
                .any(|k| str_of(values, k) == Some("none"))
            {
                emit(
                    GCP_GKE_LOGS,
                    "logging",
                    format!("{name} has logging or monitoring turned off"),
                );
            }
        }
        "google_compute_subnetwork" => {
            if values.get("log_config").is_some() && blocks(values, "log_config").is_empty() {
                emit(
                    GCP_FLOW_LOGS,
                    "flow-logs",
                    format!("{name} has no flow logs"),
                );
            }
        }
        _ => {}
    }
}

fn is_public_member(member: &str) -> bool {
    matches!(member, "allUsers" | "allAuthenticatedUsers")
}

fn aws_ingress(rule: &Value, name: &str, emit: &mut dyn FnMut(&'static str, &str, String)) {
    let sources: Vec<&str> = strings(rule.get("cidr_blocks"))
        .into_iter()
        .chain(strings(rule.get("ipv6_cidr_blocks")))
        .collect();
    if !sources.iter().any(|s| is_world(s)) {
        return;
    }
    let all = str_of(rule, "protocol").is_some_and(|p| p == "-1" || p == "all");
    let range = if all {
        Some((0, 65535))
    } else {
        number(rule.get("from_port")).zip(number(rule.get("to_port")))
    };
    let Some(range) = range else {
        return;
    };
    for port in open_admin_ports(&[range]) {
        emit(
            AWS_ADMIN_PORT,
            port,
            format!("{name} opens {port} to the internet"),
        );
    }
}

fn azure_rule(rule: &Value, name: &str, emit: &mut dyn FnMut(&'static str, &str, String)) {
    let inbound = str_of(rule, "direction").is_some_and(|d| d.eq_ignore_ascii_case("inbound"));
    let allow = str_of(rule, "access").is_some_and(|a| a.eq_ignore_ascii_case("allow"));
    let world = strings(rule.get("source_address_prefix"))
        .into_iter()
        .chain(strings(rule.get("source_address_prefixes")))
        .any(is_world);
    if !(inbound && allow && world) {
        return;
    }
    let ranges: Vec<(u64, u64)> = strings(rule.get("destination_port_range"))
        .into_iter()
        .chain(strings(rule.get("destination_port_ranges")))
        .filter_map(port_range)
        .collect();
    for port in open_admin_ports(&ranges) {
        emit(
            AZURE_ADMIN_PORT,
            port,
            format!("{name} allows {port} from any source"),
        );
    }
}

/// An IAM JSON policy with a statement allowing `*` (or `*:*`) on resource `*`.
fn iam_document_is_admin(policy: &str) -> bool {
    let Ok(document) = serde_json::from_str::<Value>(policy) else {
        return false;
    };
    let statements = match document.get("Statement") {
        Some(Value::Array(items)) => items.iter().collect(),
        Some(single @ Value::Object(_)) => vec![single],
        _ => Vec::new(),
    };
    statements.iter().any(|statement| {
        str_of(statement, "Effect") == Some("Allow")
            && strings(statement.get("Action"))
                .iter()
                .any(|a| *a == "*" || *a == "*:*")
            && strings(statement.get("Resource")).contains(&"*")
    })
}
