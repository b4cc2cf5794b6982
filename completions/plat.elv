
use builtin;
use str;

set edit:completion:arg-completer[plat] = {|@words|
    fn spaces {|n|
        builtin:repeat $n ' ' | str:join ''
    }
    fn cand {|text desc|
        edit:complex-candidate $text &display=$text' '(spaces (- 14 (wcswidth $text)))$desc
    }
    var command = 'plat'
    for word $words[1..-1] {
        if (str:has-prefix $word '-') {
            break
        }
        set command = $command';'$word
    }
    var completions = [
        &'plat'= {
            cand -o 'Output format: a table for people, JSON or YAML documents for programs'
            cand --output 'Output format: a table for people, JSON or YAML documents for programs'
            cand --context 'Context (platform connection) to use instead of the current one'
            cand --account 'Account to act in (default: your own)'
            cand --user 'Platform user to act as on an embedded platform (default: the local operator)'
            cand -q 'Print only data and errors'
            cand --quiet 'Print only data and errors'
            cand -v 'Say more about what is happening (repeat for more)'
            cand --verbose 'Say more about what is happening (repeat for more)'
            cand --no-input 'Never prompt; fail listing every missing value instead'
            cand -y 'Answer yes to confirmations'
            cand --yes 'Answer yes to confirmations'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
            cand account 'Manage accounts: your own and the sub-accounts below it'
            cand tenant 'Manage tenants: domains and branding under which accounts see the platform'
            cand user 'Link platform users to the current account, or revoke their access'
            cand group 'Manage groups, the only holders of permissions'
            cand trust 'Trust rules: let external tokens (GitHub Actions jobs) act with a group''s permissions'
            cand context 'Manage contexts: which platform plat talks to, and as whom'
            cand whoami 'Show who you are acting as, in which account, with which permissions'
            cand env 'Short-lived environments provisioned by Terraform/OpenTofu'
            cand policy 'Environment policies: lifetime limits, daily quota, monthly budget and templates that need approval'
            cand audit 'The audit trail: every write and every refusal, by whom, where and when'
            cand spend 'Spend of environments in this account and its sub-accounts, by account, tenant or label'
            cand automation 'Automations: define, run and follow the platform''s processes'
            cand scan 'Inventory and policy checks over manifests, Terraform state and live clusters'
            cand scaffold 'Create projects from Backstage Software Templates, offline, and keep them updatable'
            cand login 'Log in to a plat server with your identity provider (OIDC device flow)'
            cand logout 'Forget the login of the current context and revoke its refresh token'
            cand auth 'Inspect the current login'
            cand server 'Serve the platform to a team over HTTP (SQLite or PostgreSQL, OIDC bearer tokens)'
            cand completion 'Print a shell completion script'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'plat;account'= {
            cand -o 'Output format: a table for people, JSON or YAML documents for programs'
            cand --output 'Output format: a table for people, JSON or YAML documents for programs'
            cand --context 'Context (platform connection) to use instead of the current one'
            cand --account 'Account to act in (default: your own)'
            cand --user 'Platform user to act as on an embedded platform (default: the local operator)'
            cand -q 'Print only data and errors'
            cand --quiet 'Print only data and errors'
            cand -v 'Say more about what is happening (repeat for more)'
            cand --verbose 'Say more about what is happening (repeat for more)'
            cand --no-input 'Never prompt; fail listing every missing value instead'
            cand -y 'Answer yes to confirmations'
            cand --yes 'Answer yes to confirmations'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
            cand list 'List the current account and every account below it'
            cand ls 'List the current account and every account below it'
            cand show 'Show one account'
            cand create 'Create a sub-account of the current account'
            cand update 'Change a sub-account''s name, tenant, owner or roles (your own account: its name only)'
            cand delete 'Delete a sub-account that has no sub-accounts of its own'
            cand rm 'Delete a sub-account that has no sub-accounts of its own'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'plat;account;list'= {
            cand --limit 'Show at most this many accounts'
            cand -o 'Output format: a table for people, JSON or YAML documents for programs'
            cand --output 'Output format: a table for people, JSON or YAML documents for programs'
            cand --context 'Context (platform connection) to use instead of the current one'
            cand --account 'Account to act in (default: your own)'
            cand --user 'Platform user to act as on an embedded platform (default: the local operator)'
            cand -q 'Print only data and errors'
            cand --quiet 'Print only data and errors'
            cand -v 'Say more about what is happening (repeat for more)'
            cand --verbose 'Say more about what is happening (repeat for more)'
            cand --no-input 'Never prompt; fail listing every missing value instead'
            cand -y 'Answer yes to confirmations'
            cand --yes 'Answer yes to confirmations'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'plat;account;ls'= {
            cand --limit 'Show at most this many accounts'
            cand -o 'Output format: a table for people, JSON or YAML documents for programs'
            cand --output 'Output format: a table for people, JSON or YAML documents for programs'
            cand --context 'Context (platform connection) to use instead of the current one'
            cand --account 'Account to act in (default: your own)'
            cand --user 'Platform user to act as on an embedded platform (default: the local operator)'
            cand -q 'Print only data and errors'
            cand --quiet 'Print only data and errors'
            cand -v 'Say more about what is happening (repeat for more)'
            cand --verbose 'Say more about what is happening (repeat for more)'
            cand --no-input 'Never prompt; fail listing every missing value instead'
            cand -y 'Answer yes to confirmations'
            cand --yes 'Answer yes to confirmations'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'plat;account;show'= {
            cand -o 'Output format: a table for people, JSON or YAML documents for programs'
            cand --output 'Output format: a table for people, JSON or YAML documents for programs'
            cand --context 'Context (platform connection) to use instead of the current one'
            cand --account 'Account to act in (default: your own)'
            cand --user 'Platform user to act as on an embedded platform (default: the local operator)'
            cand -q 'Print only data and errors'
            cand --quiet 'Print only data and errors'
            cand -v 'Say more about what is happening (repeat for more)'
            cand --verbose 'Say more about what is happening (repeat for more)'
            cand --no-input 'Never prompt; fail listing every missing value instead'
            cand -y 'Answer yes to confirmations'
            cand --yes 'Answer yes to confirmations'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'plat;account;create'= {
            cand --owner 'E-mail of the owner user (created if it does not exist yet)'
            cand --name 'Display name (default: the slug)'
            cand --tenant 'Tenant to bind the account to (default: the current account''s tenant)'
            cand --role 'Role to grant the new account (repeatable)'
            cand -o 'Output format: a table for people, JSON or YAML documents for programs'
            cand --output 'Output format: a table for people, JSON or YAML documents for programs'
            cand --context 'Context (platform connection) to use instead of the current one'
            cand --account 'Account to act in (default: your own)'
            cand --user 'Platform user to act as on an embedded platform (default: the local operator)'
            cand -q 'Print only data and errors'
            cand --quiet 'Print only data and errors'
            cand -v 'Say more about what is happening (repeat for more)'
            cand --verbose 'Say more about what is happening (repeat for more)'
            cand --no-input 'Never prompt; fail listing every missing value instead'
            cand -y 'Answer yes to confirmations'
            cand --yes 'Answer yes to confirmations'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'plat;account;update'= {
            cand --name 'New display name'
            cand --tenant 'Move the account to another tenant (parent accounts only)'
            cand --owner 'Give the account another owner (parent accounts only)'
            cand --add-role 'Grant a role (repeatable)'
            cand --remove-role 'Withdraw a role (repeatable)'
            cand -o 'Output format: a table for people, JSON or YAML documents for programs'
            cand --output 'Output format: a table for people, JSON or YAML documents for programs'
            cand --context 'Context (platform connection) to use instead of the current one'
            cand --account 'Account to act in (default: your own)'
            cand --user 'Platform user to act as on an embedded platform (default: the local operator)'
            cand -q 'Print only data and errors'
            cand --quiet 'Print only data and errors'
            cand -v 'Say more about what is happening (repeat for more)'
            cand --verbose 'Say more about what is happening (repeat for more)'
            cand --no-input 'Never prompt; fail listing every missing value instead'
            cand -y 'Answer yes to confirmations'
            cand --yes 'Answer yes to confirmations'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'plat;account;delete'= {
            cand -o 'Output format: a table for people, JSON or YAML documents for programs'
            cand --output 'Output format: a table for people, JSON or YAML documents for programs'
            cand --context 'Context (platform connection) to use instead of the current one'
            cand --account 'Account to act in (default: your own)'
            cand --user 'Platform user to act as on an embedded platform (default: the local operator)'
            cand -q 'Print only data and errors'
            cand --quiet 'Print only data and errors'
            cand -v 'Say more about what is happening (repeat for more)'
            cand --verbose 'Say more about what is happening (repeat for more)'
            cand --no-input 'Never prompt; fail listing every missing value instead'
            cand -y 'Answer yes to confirmations'
            cand --yes 'Answer yes to confirmations'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'plat;account;rm'= {
            cand -o 'Output format: a table for people, JSON or YAML documents for programs'
            cand --output 'Output format: a table for people, JSON or YAML documents for programs'
            cand --context 'Context (platform connection) to use instead of the current one'
            cand --account 'Account to act in (default: your own)'
            cand --user 'Platform user to act as on an embedded platform (default: the local operator)'
            cand -q 'Print only data and errors'
            cand --quiet 'Print only data and errors'
            cand -v 'Say more about what is happening (repeat for more)'
            cand --verbose 'Say more about what is happening (repeat for more)'
            cand --no-input 'Never prompt; fail listing every missing value instead'
            cand -y 'Answer yes to confirmations'
            cand --yes 'Answer yes to confirmations'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'plat;account;help'= {
            cand list 'List the current account and every account below it'
            cand show 'Show one account'
            cand create 'Create a sub-account of the current account'
            cand update 'Change a sub-account''s name, tenant, owner or roles (your own account: its name only)'
            cand delete 'Delete a sub-account that has no sub-accounts of its own'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'plat;account;help;list'= {
        }
        &'plat;account;help;show'= {
        }
        &'plat;account;help;create'= {
        }
        &'plat;account;help;update'= {
        }
        &'plat;account;help;delete'= {
        }
        &'plat;account;help;help'= {
        }
        &'plat;tenant'= {
            cand -o 'Output format: a table for people, JSON or YAML documents for programs'
            cand --output 'Output format: a table for people, JSON or YAML documents for programs'
            cand --context 'Context (platform connection) to use instead of the current one'
            cand --account 'Account to act in (default: your own)'
            cand --user 'Platform user to act as on an embedded platform (default: the local operator)'
            cand -q 'Print only data and errors'
            cand --quiet 'Print only data and errors'
            cand -v 'Say more about what is happening (repeat for more)'
            cand --verbose 'Say more about what is happening (repeat for more)'
            cand --no-input 'Never prompt; fail listing every missing value instead'
            cand -y 'Answer yes to confirmations'
            cand --yes 'Answer yes to confirmations'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
            cand list 'List the tenants your account owns or is bound to'
            cand ls 'List the tenants your account owns or is bound to'
            cand show 'Show one tenant'
            cand create 'Create a tenant for your sub-accounts'
            cand update 'Change a tenant''s domain or branding'
            cand delete 'Delete a tenant no account is bound to'
            cand rm 'Delete a tenant no account is bound to'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'plat;tenant;list'= {
            cand -o 'Output format: a table for people, JSON or YAML documents for programs'
            cand --output 'Output format: a table for people, JSON or YAML documents for programs'
            cand --context 'Context (platform connection) to use instead of the current one'
            cand --account 'Account to act in (default: your own)'
            cand --user 'Platform user to act as on an embedded platform (default: the local operator)'
            cand -q 'Print only data and errors'
            cand --quiet 'Print only data and errors'
            cand -v 'Say more about what is happening (repeat for more)'
            cand --verbose 'Say more about what is happening (repeat for more)'
            cand --no-input 'Never prompt; fail listing every missing value instead'
            cand -y 'Answer yes to confirmations'
            cand --yes 'Answer yes to confirmations'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'plat;tenant;ls'= {
            cand -o 'Output format: a table for people, JSON or YAML documents for programs'
            cand --output 'Output format: a table for people, JSON or YAML documents for programs'
            cand --context 'Context (platform connection) to use instead of the current one'
            cand --account 'Account to act in (default: your own)'
            cand --user 'Platform user to act as on an embedded platform (default: the local operator)'
            cand -q 'Print only data and errors'
            cand --quiet 'Print only data and errors'
            cand -v 'Say more about what is happening (repeat for more)'
            cand --verbose 'Say more about what is happening (repeat for more)'
            cand --no-input 'Never prompt; fail listing every missing value instead'
            cand -y 'Answer yes to confirmations'
            cand --yes 'Answer yes to confirmations'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'plat;tenant;show'= {
            cand -o 'Output format: a table for people, JSON or YAML documents for programs'
            cand --output 'Output format: a table for people, JSON or YAML documents for programs'
            cand --context 'Context (platform connection) to use instead of the current one'
            cand --account 'Account to act in (default: your own)'
            cand --user 'Platform user to act as on an embedded platform (default: the local operator)'
            cand -q 'Print only data and errors'
            cand --quiet 'Print only data and errors'
            cand -v 'Say more about what is happening (repeat for more)'
            cand --verbose 'Say more about what is happening (repeat for more)'
            cand --no-input 'Never prompt; fail listing every missing value instead'
            cand -y 'Answer yes to confirmations'
            cand --yes 'Answer yes to confirmations'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'plat;tenant;create'= {
            cand --domain 'Domain that resolves to this tenant'
            cand --owner-account 'Account that owns the tenant: yours (default) or one of your sub-accounts'
            cand --logo 'Logo URL'
            cand --color 'Primary colour, e.g. ''#0a7'''
            cand --secondary-color 'Secondary colour'
            cand --description 'Description shown by the portal'
            cand --layout 'Layout option (repeatable)'
            cand -o 'Output format: a table for people, JSON or YAML documents for programs'
            cand --output 'Output format: a table for people, JSON or YAML documents for programs'
            cand --context 'Context (platform connection) to use instead of the current one'
            cand --account 'Account to act in (default: your own)'
            cand --user 'Platform user to act as on an embedded platform (default: the local operator)'
            cand -q 'Print only data and errors'
            cand --quiet 'Print only data and errors'
            cand -v 'Say more about what is happening (repeat for more)'
            cand --verbose 'Say more about what is happening (repeat for more)'
            cand --no-input 'Never prompt; fail listing every missing value instead'
            cand -y 'Answer yes to confirmations'
            cand --yes 'Answer yes to confirmations'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'plat;tenant;update'= {
            cand --domain 'New domain (owner account only)'
            cand --logo 'Logo URL'
            cand --color 'Primary colour, e.g. ''#0a7'''
            cand --secondary-color 'Secondary colour'
            cand --description 'Description shown by the portal'
            cand --layout 'Layout option (repeatable)'
            cand -o 'Output format: a table for people, JSON or YAML documents for programs'
            cand --output 'Output format: a table for people, JSON or YAML documents for programs'
            cand --context 'Context (platform connection) to use instead of the current one'
            cand --account 'Account to act in (default: your own)'
            cand --user 'Platform user to act as on an embedded platform (default: the local operator)'
            cand -q 'Print only data and errors'
            cand --quiet 'Print only data and errors'
            cand -v 'Say more about what is happening (repeat for more)'
            cand --verbose 'Say more about what is happening (repeat for more)'
            cand --no-input 'Never prompt; fail listing every missing value instead'
            cand -y 'Answer yes to confirmations'
            cand --yes 'Answer yes to confirmations'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'plat;tenant;delete'= {
            cand -o 'Output format: a table for people, JSON or YAML documents for programs'
            cand --output 'Output format: a table for people, JSON or YAML documents for programs'
            cand --context 'Context (platform connection) to use instead of the current one'
            cand --account 'Account to act in (default: your own)'
            cand --user 'Platform user to act as on an embedded platform (default: the local operator)'
            cand -q 'Print only data and errors'
            cand --quiet 'Print only data and errors'
            cand -v 'Say more about what is happening (repeat for more)'
            cand --verbose 'Say more about what is happening (repeat for more)'
            cand --no-input 'Never prompt; fail listing every missing value instead'
            cand -y 'Answer yes to confirmations'
            cand --yes 'Answer yes to confirmations'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'plat;tenant;rm'= {
            cand -o 'Output format: a table for people, JSON or YAML documents for programs'
            cand --output 'Output format: a table for people, JSON or YAML documents for programs'
            cand --context 'Context (platform connection) to use instead of the current one'
            cand --account 'Account to act in (default: your own)'
            cand --user 'Platform user to act as on an embedded platform (default: the local operator)'
            cand -q 'Print only data and errors'
            cand --quiet 'Print only data and errors'
            cand -v 'Say more about what is happening (repeat for more)'
            cand --verbose 'Say more about what is happening (repeat for more)'
            cand --no-input 'Never prompt; fail listing every missing value instead'
            cand -y 'Answer yes to confirmations'
            cand --yes 'Answer yes to confirmations'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'plat;tenant;help'= {
            cand list 'List the tenants your account owns or is bound to'
            cand show 'Show one tenant'
            cand create 'Create a tenant for your sub-accounts'
            cand update 'Change a tenant''s domain or branding'
            cand delete 'Delete a tenant no account is bound to'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'plat;tenant;help;list'= {
        }
        &'plat;tenant;help;show'= {
        }
        &'plat;tenant;help;create'= {
        }
        &'plat;tenant;help;update'= {
        }
        &'plat;tenant;help;delete'= {
        }
        &'plat;tenant;help;help'= {
        }
        &'plat;user'= {
            cand -o 'Output format: a table for people, JSON or YAML documents for programs'
            cand --output 'Output format: a table for people, JSON or YAML documents for programs'
            cand --context 'Context (platform connection) to use instead of the current one'
            cand --account 'Account to act in (default: your own)'
            cand --user 'Platform user to act as on an embedded platform (default: the local operator)'
            cand -q 'Print only data and errors'
            cand --quiet 'Print only data and errors'
            cand -v 'Say more about what is happening (repeat for more)'
            cand --verbose 'Say more about what is happening (repeat for more)'
            cand --no-input 'Never prompt; fail listing every missing value instead'
            cand -y 'Answer yes to confirmations'
            cand --yes 'Answer yes to confirmations'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
            cand list 'List the users linked to the current account'
            cand ls 'List the users linked to the current account'
            cand show 'Show one linked user'
            cand create 'Link a user to the current account, creating the platform user if needed'
            cand update 'Change your own display name (users own themselves)'
            cand revoke 'Remove a user''s access to the current account; the user is kept'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'plat;user;list'= {
            cand -o 'Output format: a table for people, JSON or YAML documents for programs'
            cand --output 'Output format: a table for people, JSON or YAML documents for programs'
            cand --context 'Context (platform connection) to use instead of the current one'
            cand --account 'Account to act in (default: your own)'
            cand --user 'Platform user to act as on an embedded platform (default: the local operator)'
            cand -q 'Print only data and errors'
            cand --quiet 'Print only data and errors'
            cand -v 'Say more about what is happening (repeat for more)'
            cand --verbose 'Say more about what is happening (repeat for more)'
            cand --no-input 'Never prompt; fail listing every missing value instead'
            cand -y 'Answer yes to confirmations'
            cand --yes 'Answer yes to confirmations'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'plat;user;ls'= {
            cand -o 'Output format: a table for people, JSON or YAML documents for programs'
            cand --output 'Output format: a table for people, JSON or YAML documents for programs'
            cand --context 'Context (platform connection) to use instead of the current one'
            cand --account 'Account to act in (default: your own)'
            cand --user 'Platform user to act as on an embedded platform (default: the local operator)'
            cand -q 'Print only data and errors'
            cand --quiet 'Print only data and errors'
            cand -v 'Say more about what is happening (repeat for more)'
            cand --verbose 'Say more about what is happening (repeat for more)'
            cand --no-input 'Never prompt; fail listing every missing value instead'
            cand -y 'Answer yes to confirmations'
            cand --yes 'Answer yes to confirmations'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'plat;user;show'= {
            cand -o 'Output format: a table for people, JSON or YAML documents for programs'
            cand --output 'Output format: a table for people, JSON or YAML documents for programs'
            cand --context 'Context (platform connection) to use instead of the current one'
            cand --account 'Account to act in (default: your own)'
            cand --user 'Platform user to act as on an embedded platform (default: the local operator)'
            cand -q 'Print only data and errors'
            cand --quiet 'Print only data and errors'
            cand -v 'Say more about what is happening (repeat for more)'
            cand --verbose 'Say more about what is happening (repeat for more)'
            cand --no-input 'Never prompt; fail listing every missing value instead'
            cand -y 'Answer yes to confirmations'
            cand --yes 'Answer yes to confirmations'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'plat;user;create'= {
            cand --name 'Display name'
            cand --group 'Group to add the user to (repeatable)'
            cand -o 'Output format: a table for people, JSON or YAML documents for programs'
            cand --output 'Output format: a table for people, JSON or YAML documents for programs'
            cand --context 'Context (platform connection) to use instead of the current one'
            cand --account 'Account to act in (default: your own)'
            cand --user 'Platform user to act as on an embedded platform (default: the local operator)'
            cand -q 'Print only data and errors'
            cand --quiet 'Print only data and errors'
            cand -v 'Say more about what is happening (repeat for more)'
            cand --verbose 'Say more about what is happening (repeat for more)'
            cand --no-input 'Never prompt; fail listing every missing value instead'
            cand -y 'Answer yes to confirmations'
            cand --yes 'Answer yes to confirmations'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'plat;user;update'= {
            cand --name 'New display name'
            cand -o 'Output format: a table for people, JSON or YAML documents for programs'
            cand --output 'Output format: a table for people, JSON or YAML documents for programs'
            cand --context 'Context (platform connection) to use instead of the current one'
            cand --account 'Account to act in (default: your own)'
            cand --user 'Platform user to act as on an embedded platform (default: the local operator)'
            cand -q 'Print only data and errors'
            cand --quiet 'Print only data and errors'
            cand -v 'Say more about what is happening (repeat for more)'
            cand --verbose 'Say more about what is happening (repeat for more)'
            cand --no-input 'Never prompt; fail listing every missing value instead'
            cand -y 'Answer yes to confirmations'
            cand --yes 'Answer yes to confirmations'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'plat;user;revoke'= {
            cand -o 'Output format: a table for people, JSON or YAML documents for programs'
            cand --output 'Output format: a table for people, JSON or YAML documents for programs'
            cand --context 'Context (platform connection) to use instead of the current one'
            cand --account 'Account to act in (default: your own)'
            cand --user 'Platform user to act as on an embedded platform (default: the local operator)'
            cand -q 'Print only data and errors'
            cand --quiet 'Print only data and errors'
            cand -v 'Say more about what is happening (repeat for more)'
            cand --verbose 'Say more about what is happening (repeat for more)'
            cand --no-input 'Never prompt; fail listing every missing value instead'
            cand -y 'Answer yes to confirmations'
            cand --yes 'Answer yes to confirmations'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'plat;user;help'= {
            cand list 'List the users linked to the current account'
            cand show 'Show one linked user'
            cand create 'Link a user to the current account, creating the platform user if needed'
            cand update 'Change your own display name (users own themselves)'
            cand revoke 'Remove a user''s access to the current account; the user is kept'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'plat;user;help;list'= {
        }
        &'plat;user;help;show'= {
        }
        &'plat;user;help;create'= {
        }
        &'plat;user;help;update'= {
        }
        &'plat;user;help;revoke'= {
        }
        &'plat;user;help;help'= {
        }
        &'plat;group'= {
            cand -o 'Output format: a table for people, JSON or YAML documents for programs'
            cand --output 'Output format: a table for people, JSON or YAML documents for programs'
            cand --context 'Context (platform connection) to use instead of the current one'
            cand --account 'Account to act in (default: your own)'
            cand --user 'Platform user to act as on an embedded platform (default: the local operator)'
            cand -q 'Print only data and errors'
            cand --quiet 'Print only data and errors'
            cand -v 'Say more about what is happening (repeat for more)'
            cand --verbose 'Say more about what is happening (repeat for more)'
            cand --no-input 'Never prompt; fail listing every missing value instead'
            cand -y 'Answer yes to confirmations'
            cand --yes 'Answer yes to confirmations'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
            cand list 'List the current account''s groups'
            cand ls 'List the current account''s groups'
            cand show 'Show one group with its permissions and members'
            cand create 'Create a group with permissions'
            cand update 'Add or remove permissions of a group'
            cand delete 'Delete a group (predefined groups stay)'
            cand rm 'Delete a group (predefined groups stay)'
            cand add-member 'Add a linked user to a group'
            cand remove-member 'Remove a user from a group'
            cand link-idp 'Give the members of an identity-provider group this group''s permissions'
            cand unlink-idp 'Remove an identity-provider group''s link to this group'
            cand permissions 'List every permission a group can hold'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'plat;group;list'= {
            cand -o 'Output format: a table for people, JSON or YAML documents for programs'
            cand --output 'Output format: a table for people, JSON or YAML documents for programs'
            cand --context 'Context (platform connection) to use instead of the current one'
            cand --account 'Account to act in (default: your own)'
            cand --user 'Platform user to act as on an embedded platform (default: the local operator)'
            cand -q 'Print only data and errors'
            cand --quiet 'Print only data and errors'
            cand -v 'Say more about what is happening (repeat for more)'
            cand --verbose 'Say more about what is happening (repeat for more)'
            cand --no-input 'Never prompt; fail listing every missing value instead'
            cand -y 'Answer yes to confirmations'
            cand --yes 'Answer yes to confirmations'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'plat;group;ls'= {
            cand -o 'Output format: a table for people, JSON or YAML documents for programs'
            cand --output 'Output format: a table for people, JSON or YAML documents for programs'
            cand --context 'Context (platform connection) to use instead of the current one'
            cand --account 'Account to act in (default: your own)'
            cand --user 'Platform user to act as on an embedded platform (default: the local operator)'
            cand -q 'Print only data and errors'
            cand --quiet 'Print only data and errors'
            cand -v 'Say more about what is happening (repeat for more)'
            cand --verbose 'Say more about what is happening (repeat for more)'
            cand --no-input 'Never prompt; fail listing every missing value instead'
            cand -y 'Answer yes to confirmations'
            cand --yes 'Answer yes to confirmations'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'plat;group;show'= {
            cand -o 'Output format: a table for people, JSON or YAML documents for programs'
            cand --output 'Output format: a table for people, JSON or YAML documents for programs'
            cand --context 'Context (platform connection) to use instead of the current one'
            cand --account 'Account to act in (default: your own)'
            cand --user 'Platform user to act as on an embedded platform (default: the local operator)'
            cand -q 'Print only data and errors'
            cand --quiet 'Print only data and errors'
            cand -v 'Say more about what is happening (repeat for more)'
            cand --verbose 'Say more about what is happening (repeat for more)'
            cand --no-input 'Never prompt; fail listing every missing value instead'
            cand -y 'Answer yes to confirmations'
            cand --yes 'Answer yes to confirmations'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'plat;group;create'= {
            cand --permission 'Permission to grant (repeatable), e.g. envs:write'
            cand -o 'Output format: a table for people, JSON or YAML documents for programs'
            cand --output 'Output format: a table for people, JSON or YAML documents for programs'
            cand --context 'Context (platform connection) to use instead of the current one'
            cand --account 'Account to act in (default: your own)'
            cand --user 'Platform user to act as on an embedded platform (default: the local operator)'
            cand -q 'Print only data and errors'
            cand --quiet 'Print only data and errors'
            cand -v 'Say more about what is happening (repeat for more)'
            cand --verbose 'Say more about what is happening (repeat for more)'
            cand --no-input 'Never prompt; fail listing every missing value instead'
            cand -y 'Answer yes to confirmations'
            cand --yes 'Answer yes to confirmations'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'plat;group;update'= {
            cand --add-permission 'Permission to add (repeatable)'
            cand --remove-permission 'Permission to remove (repeatable)'
            cand -o 'Output format: a table for people, JSON or YAML documents for programs'
            cand --output 'Output format: a table for people, JSON or YAML documents for programs'
            cand --context 'Context (platform connection) to use instead of the current one'
            cand --account 'Account to act in (default: your own)'
            cand --user 'Platform user to act as on an embedded platform (default: the local operator)'
            cand -q 'Print only data and errors'
            cand --quiet 'Print only data and errors'
            cand -v 'Say more about what is happening (repeat for more)'
            cand --verbose 'Say more about what is happening (repeat for more)'
            cand --no-input 'Never prompt; fail listing every missing value instead'
            cand -y 'Answer yes to confirmations'
            cand --yes 'Answer yes to confirmations'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'plat;group;delete'= {
            cand -o 'Output format: a table for people, JSON or YAML documents for programs'
            cand --output 'Output format: a table for people, JSON or YAML documents for programs'
            cand --context 'Context (platform connection) to use instead of the current one'
            cand --account 'Account to act in (default: your own)'
            cand --user 'Platform user to act as on an embedded platform (default: the local operator)'
            cand -q 'Print only data and errors'
            cand --quiet 'Print only data and errors'
            cand -v 'Say more about what is happening (repeat for more)'
            cand --verbose 'Say more about what is happening (repeat for more)'
            cand --no-input 'Never prompt; fail listing every missing value instead'
            cand -y 'Answer yes to confirmations'
            cand --yes 'Answer yes to confirmations'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'plat;group;rm'= {
            cand -o 'Output format: a table for people, JSON or YAML documents for programs'
            cand --output 'Output format: a table for people, JSON or YAML documents for programs'
            cand --context 'Context (platform connection) to use instead of the current one'
            cand --account 'Account to act in (default: your own)'
            cand --user 'Platform user to act as on an embedded platform (default: the local operator)'
            cand -q 'Print only data and errors'
            cand --quiet 'Print only data and errors'
            cand -v 'Say more about what is happening (repeat for more)'
            cand --verbose 'Say more about what is happening (repeat for more)'
            cand --no-input 'Never prompt; fail listing every missing value instead'
            cand -y 'Answer yes to confirmations'
            cand --yes 'Answer yes to confirmations'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'plat;group;add-member'= {
            cand -o 'Output format: a table for people, JSON or YAML documents for programs'
            cand --output 'Output format: a table for people, JSON or YAML documents for programs'
            cand --context 'Context (platform connection) to use instead of the current one'
            cand --account 'Account to act in (default: your own)'
            cand --user 'Platform user to act as on an embedded platform (default: the local operator)'
            cand -q 'Print only data and errors'
            cand --quiet 'Print only data and errors'
            cand -v 'Say more about what is happening (repeat for more)'
            cand --verbose 'Say more about what is happening (repeat for more)'
            cand --no-input 'Never prompt; fail listing every missing value instead'
            cand -y 'Answer yes to confirmations'
            cand --yes 'Answer yes to confirmations'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'plat;group;remove-member'= {
            cand -o 'Output format: a table for people, JSON or YAML documents for programs'
            cand --output 'Output format: a table for people, JSON or YAML documents for programs'
            cand --context 'Context (platform connection) to use instead of the current one'
            cand --account 'Account to act in (default: your own)'
            cand --user 'Platform user to act as on an embedded platform (default: the local operator)'
            cand -q 'Print only data and errors'
            cand --quiet 'Print only data and errors'
            cand -v 'Say more about what is happening (repeat for more)'
            cand --verbose 'Say more about what is happening (repeat for more)'
            cand --no-input 'Never prompt; fail listing every missing value instead'
            cand -y 'Answer yes to confirmations'
            cand --yes 'Answer yes to confirmations'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'plat;group;link-idp'= {
            cand --idp-group 'The IdP group as the server''s groups claim names it, e.g. /acme/release'
            cand -o 'Output format: a table for people, JSON or YAML documents for programs'
            cand --output 'Output format: a table for people, JSON or YAML documents for programs'
            cand --context 'Context (platform connection) to use instead of the current one'
            cand --account 'Account to act in (default: your own)'
            cand --user 'Platform user to act as on an embedded platform (default: the local operator)'
            cand -q 'Print only data and errors'
            cand --quiet 'Print only data and errors'
            cand -v 'Say more about what is happening (repeat for more)'
            cand --verbose 'Say more about what is happening (repeat for more)'
            cand --no-input 'Never prompt; fail listing every missing value instead'
            cand -y 'Answer yes to confirmations'
            cand --yes 'Answer yes to confirmations'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'plat;group;unlink-idp'= {
            cand --idp-group 'The IdP group as the server''s groups claim names it, e.g. /acme/release'
            cand -o 'Output format: a table for people, JSON or YAML documents for programs'
            cand --output 'Output format: a table for people, JSON or YAML documents for programs'
            cand --context 'Context (platform connection) to use instead of the current one'
            cand --account 'Account to act in (default: your own)'
            cand --user 'Platform user to act as on an embedded platform (default: the local operator)'
            cand -q 'Print only data and errors'
            cand --quiet 'Print only data and errors'
            cand -v 'Say more about what is happening (repeat for more)'
            cand --verbose 'Say more about what is happening (repeat for more)'
            cand --no-input 'Never prompt; fail listing every missing value instead'
            cand -y 'Answer yes to confirmations'
            cand --yes 'Answer yes to confirmations'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'plat;group;permissions'= {
            cand -o 'Output format: a table for people, JSON or YAML documents for programs'
            cand --output 'Output format: a table for people, JSON or YAML documents for programs'
            cand --context 'Context (platform connection) to use instead of the current one'
            cand --account 'Account to act in (default: your own)'
            cand --user 'Platform user to act as on an embedded platform (default: the local operator)'
            cand -q 'Print only data and errors'
            cand --quiet 'Print only data and errors'
            cand -v 'Say more about what is happening (repeat for more)'
            cand --verbose 'Say more about what is happening (repeat for more)'
            cand --no-input 'Never prompt; fail listing every missing value instead'
            cand -y 'Answer yes to confirmations'
            cand --yes 'Answer yes to confirmations'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'plat;group;help'= {
            cand list 'List the current account''s groups'
            cand show 'Show one group with its permissions and members'
            cand create 'Create a group with permissions'
            cand update 'Add or remove permissions of a group'
            cand delete 'Delete a group (predefined groups stay)'
            cand add-member 'Add a linked user to a group'
            cand remove-member 'Remove a user from a group'
            cand link-idp 'Give the members of an identity-provider group this group''s permissions'
            cand unlink-idp 'Remove an identity-provider group''s link to this group'
            cand permissions 'List every permission a group can hold'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'plat;group;help;list'= {
        }
        &'plat;group;help;show'= {
        }
        &'plat;group;help;create'= {
        }
        &'plat;group;help;update'= {
        }
        &'plat;group;help;delete'= {
        }
        &'plat;group;help;add-member'= {
        }
        &'plat;group;help;remove-member'= {
        }
        &'plat;group;help;link-idp'= {
        }
        &'plat;group;help;unlink-idp'= {
        }
        &'plat;group;help;permissions'= {
        }
        &'plat;group;help;help'= {
        }
        &'plat;trust'= {
            cand -o 'Output format: a table for people, JSON or YAML documents for programs'
            cand --output 'Output format: a table for people, JSON or YAML documents for programs'
            cand --context 'Context (platform connection) to use instead of the current one'
            cand --account 'Account to act in (default: your own)'
            cand --user 'Platform user to act as on an embedded platform (default: the local operator)'
            cand -q 'Print only data and errors'
            cand --quiet 'Print only data and errors'
            cand -v 'Say more about what is happening (repeat for more)'
            cand --verbose 'Say more about what is happening (repeat for more)'
            cand --no-input 'Never prompt; fail listing every missing value instead'
            cand -y 'Answer yes to confirmations'
            cand --yes 'Answer yes to confirmations'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
            cand list 'List the account''s trust rules'
            cand ls 'List the account''s trust rules'
            cand add 'Let tokens of an external issuer (a GitHub Actions job) act with a group''s permissions'
            cand delete 'Delete a trust rule: its tokens are refused from the next request'
            cand rm 'Delete a trust rule: its tokens are refused from the next request'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'plat;trust;list'= {
            cand -o 'Output format: a table for people, JSON or YAML documents for programs'
            cand --output 'Output format: a table for people, JSON or YAML documents for programs'
            cand --context 'Context (platform connection) to use instead of the current one'
            cand --account 'Account to act in (default: your own)'
            cand --user 'Platform user to act as on an embedded platform (default: the local operator)'
            cand -q 'Print only data and errors'
            cand --quiet 'Print only data and errors'
            cand -v 'Say more about what is happening (repeat for more)'
            cand --verbose 'Say more about what is happening (repeat for more)'
            cand --no-input 'Never prompt; fail listing every missing value instead'
            cand -y 'Answer yes to confirmations'
            cand --yes 'Answer yes to confirmations'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'plat;trust;ls'= {
            cand -o 'Output format: a table for people, JSON or YAML documents for programs'
            cand --output 'Output format: a table for people, JSON or YAML documents for programs'
            cand --context 'Context (platform connection) to use instead of the current one'
            cand --account 'Account to act in (default: your own)'
            cand --user 'Platform user to act as on an embedded platform (default: the local operator)'
            cand -q 'Print only data and errors'
            cand --quiet 'Print only data and errors'
            cand -v 'Say more about what is happening (repeat for more)'
            cand --verbose 'Say more about what is happening (repeat for more)'
            cand --no-input 'Never prompt; fail listing every missing value instead'
            cand -y 'Answer yes to confirmations'
            cand --yes 'Answer yes to confirmations'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'plat;trust;add'= {
            cand --issuer 'The issuer URL, as the tokens'' `iss` claim has it'
            cand --audience 'The audience the tokens must be for (`plat login --github-actions --audience`)'
            cand --claim 'A claim the token must have (repeatable; all must match), e.g. repository=acme/shop'
            cand --group 'The account''s group whose permissions the tokens act with'
            cand -o 'Output format: a table for people, JSON or YAML documents for programs'
            cand --output 'Output format: a table for people, JSON or YAML documents for programs'
            cand --context 'Context (platform connection) to use instead of the current one'
            cand --account 'Account to act in (default: your own)'
            cand --user 'Platform user to act as on an embedded platform (default: the local operator)'
            cand -q 'Print only data and errors'
            cand --quiet 'Print only data and errors'
            cand -v 'Say more about what is happening (repeat for more)'
            cand --verbose 'Say more about what is happening (repeat for more)'
            cand --no-input 'Never prompt; fail listing every missing value instead'
            cand -y 'Answer yes to confirmations'
            cand --yes 'Answer yes to confirmations'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'plat;trust;delete'= {
            cand -o 'Output format: a table for people, JSON or YAML documents for programs'
            cand --output 'Output format: a table for people, JSON or YAML documents for programs'
            cand --context 'Context (platform connection) to use instead of the current one'
            cand --account 'Account to act in (default: your own)'
            cand --user 'Platform user to act as on an embedded platform (default: the local operator)'
            cand -q 'Print only data and errors'
            cand --quiet 'Print only data and errors'
            cand -v 'Say more about what is happening (repeat for more)'
            cand --verbose 'Say more about what is happening (repeat for more)'
            cand --no-input 'Never prompt; fail listing every missing value instead'
            cand -y 'Answer yes to confirmations'
            cand --yes 'Answer yes to confirmations'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'plat;trust;rm'= {
            cand -o 'Output format: a table for people, JSON or YAML documents for programs'
            cand --output 'Output format: a table for people, JSON or YAML documents for programs'
            cand --context 'Context (platform connection) to use instead of the current one'
            cand --account 'Account to act in (default: your own)'
            cand --user 'Platform user to act as on an embedded platform (default: the local operator)'
            cand -q 'Print only data and errors'
            cand --quiet 'Print only data and errors'
            cand -v 'Say more about what is happening (repeat for more)'
            cand --verbose 'Say more about what is happening (repeat for more)'
            cand --no-input 'Never prompt; fail listing every missing value instead'
            cand -y 'Answer yes to confirmations'
            cand --yes 'Answer yes to confirmations'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'plat;trust;help'= {
            cand list 'List the account''s trust rules'
            cand add 'Let tokens of an external issuer (a GitHub Actions job) act with a group''s permissions'
            cand delete 'Delete a trust rule: its tokens are refused from the next request'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'plat;trust;help;list'= {
        }
        &'plat;trust;help;add'= {
        }
        &'plat;trust;help;delete'= {
        }
        &'plat;trust;help;help'= {
        }
        &'plat;context'= {
            cand -o 'Output format: a table for people, JSON or YAML documents for programs'
            cand --output 'Output format: a table for people, JSON or YAML documents for programs'
            cand --context 'Context (platform connection) to use instead of the current one'
            cand --account 'Account to act in (default: your own)'
            cand --user 'Platform user to act as on an embedded platform (default: the local operator)'
            cand -q 'Print only data and errors'
            cand --quiet 'Print only data and errors'
            cand -v 'Say more about what is happening (repeat for more)'
            cand --verbose 'Say more about what is happening (repeat for more)'
            cand --no-input 'Never prompt; fail listing every missing value instead'
            cand -y 'Answer yes to confirmations'
            cand --yes 'Answer yes to confirmations'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
            cand list 'List contexts; the current one is marked'
            cand ls 'List contexts; the current one is marked'
            cand show 'Show a context (default: the current one)'
            cand use 'Make a context the current one'
            cand add 'Add or replace a context'
            cand delete 'Delete a context'
            cand rm 'Delete a context'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'plat;context;list'= {
            cand -o 'Output format: a table for people, JSON or YAML documents for programs'
            cand --output 'Output format: a table for people, JSON or YAML documents for programs'
            cand --context 'Context (platform connection) to use instead of the current one'
            cand --account 'Account to act in (default: your own)'
            cand --user 'Platform user to act as on an embedded platform (default: the local operator)'
            cand -q 'Print only data and errors'
            cand --quiet 'Print only data and errors'
            cand -v 'Say more about what is happening (repeat for more)'
            cand --verbose 'Say more about what is happening (repeat for more)'
            cand --no-input 'Never prompt; fail listing every missing value instead'
            cand -y 'Answer yes to confirmations'
            cand --yes 'Answer yes to confirmations'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'plat;context;ls'= {
            cand -o 'Output format: a table for people, JSON or YAML documents for programs'
            cand --output 'Output format: a table for people, JSON or YAML documents for programs'
            cand --context 'Context (platform connection) to use instead of the current one'
            cand --account 'Account to act in (default: your own)'
            cand --user 'Platform user to act as on an embedded platform (default: the local operator)'
            cand -q 'Print only data and errors'
            cand --quiet 'Print only data and errors'
            cand -v 'Say more about what is happening (repeat for more)'
            cand --verbose 'Say more about what is happening (repeat for more)'
            cand --no-input 'Never prompt; fail listing every missing value instead'
            cand -y 'Answer yes to confirmations'
            cand --yes 'Answer yes to confirmations'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'plat;context;show'= {
            cand -o 'Output format: a table for people, JSON or YAML documents for programs'
            cand --output 'Output format: a table for people, JSON or YAML documents for programs'
            cand --context 'Context (platform connection) to use instead of the current one'
            cand --account 'Account to act in (default: your own)'
            cand --user 'Platform user to act as on an embedded platform (default: the local operator)'
            cand -q 'Print only data and errors'
            cand --quiet 'Print only data and errors'
            cand -v 'Say more about what is happening (repeat for more)'
            cand --verbose 'Say more about what is happening (repeat for more)'
            cand --no-input 'Never prompt; fail listing every missing value instead'
            cand -y 'Answer yes to confirmations'
            cand --yes 'Answer yes to confirmations'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'plat;context;use'= {
            cand -o 'Output format: a table for people, JSON or YAML documents for programs'
            cand --output 'Output format: a table for people, JSON or YAML documents for programs'
            cand --context 'Context (platform connection) to use instead of the current one'
            cand --account 'Account to act in (default: your own)'
            cand --user 'Platform user to act as on an embedded platform (default: the local operator)'
            cand -q 'Print only data and errors'
            cand --quiet 'Print only data and errors'
            cand -v 'Say more about what is happening (repeat for more)'
            cand --verbose 'Say more about what is happening (repeat for more)'
            cand --no-input 'Never prompt; fail listing every missing value instead'
            cand -y 'Answer yes to confirmations'
            cand --yes 'Answer yes to confirmations'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'plat;context;add'= {
            cand --server 'URL of a `plat server` (omit for the embedded platform)'
            cand --database-url 'Database of an embedded platform (default: SQLite in the data dir)'
            cand --as 'Platform user to act as (embedded platform only)'
            cand --default-account 'Account to act in by default'
            cand --iac-bin 'Terraform or OpenTofu binary to use'
            cand -o 'Output format: a table for people, JSON or YAML documents for programs'
            cand --output 'Output format: a table for people, JSON or YAML documents for programs'
            cand --context 'Context (platform connection) to use instead of the current one'
            cand --account 'Account to act in (default: your own)'
            cand --use 'Make it the current context'
            cand -q 'Print only data and errors'
            cand --quiet 'Print only data and errors'
            cand -v 'Say more about what is happening (repeat for more)'
            cand --verbose 'Say more about what is happening (repeat for more)'
            cand --no-input 'Never prompt; fail listing every missing value instead'
            cand -y 'Answer yes to confirmations'
            cand --yes 'Answer yes to confirmations'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'plat;context;delete'= {
            cand -o 'Output format: a table for people, JSON or YAML documents for programs'
            cand --output 'Output format: a table for people, JSON or YAML documents for programs'
            cand --context 'Context (platform connection) to use instead of the current one'
            cand --account 'Account to act in (default: your own)'
            cand --user 'Platform user to act as on an embedded platform (default: the local operator)'
            cand -q 'Print only data and errors'
            cand --quiet 'Print only data and errors'
            cand -v 'Say more about what is happening (repeat for more)'
            cand --verbose 'Say more about what is happening (repeat for more)'
            cand --no-input 'Never prompt; fail listing every missing value instead'
            cand -y 'Answer yes to confirmations'
            cand --yes 'Answer yes to confirmations'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'plat;context;rm'= {
            cand -o 'Output format: a table for people, JSON or YAML documents for programs'
            cand --output 'Output format: a table for people, JSON or YAML documents for programs'
            cand --context 'Context (platform connection) to use instead of the current one'
            cand --account 'Account to act in (default: your own)'
            cand --user 'Platform user to act as on an embedded platform (default: the local operator)'
            cand -q 'Print only data and errors'
            cand --quiet 'Print only data and errors'
            cand -v 'Say more about what is happening (repeat for more)'
            cand --verbose 'Say more about what is happening (repeat for more)'
            cand --no-input 'Never prompt; fail listing every missing value instead'
            cand -y 'Answer yes to confirmations'
            cand --yes 'Answer yes to confirmations'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'plat;context;help'= {
            cand list 'List contexts; the current one is marked'
            cand show 'Show a context (default: the current one)'
            cand use 'Make a context the current one'
            cand add 'Add or replace a context'
            cand delete 'Delete a context'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'plat;context;help;list'= {
        }
        &'plat;context;help;show'= {
        }
        &'plat;context;help;use'= {
        }
        &'plat;context;help;add'= {
        }
        &'plat;context;help;delete'= {
        }
        &'plat;context;help;help'= {
        }
        &'plat;whoami'= {
            cand -o 'Output format: a table for people, JSON or YAML documents for programs'
            cand --output 'Output format: a table for people, JSON or YAML documents for programs'
            cand --context 'Context (platform connection) to use instead of the current one'
            cand --account 'Account to act in (default: your own)'
            cand --user 'Platform user to act as on an embedded platform (default: the local operator)'
            cand -q 'Print only data and errors'
            cand --quiet 'Print only data and errors'
            cand -v 'Say more about what is happening (repeat for more)'
            cand --verbose 'Say more about what is happening (repeat for more)'
            cand --no-input 'Never prompt; fail listing every missing value instead'
            cand -y 'Answer yes to confirmations'
            cand --yes 'Answer yes to confirmations'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'plat;env'= {
            cand -o 'Output format: a table for people, JSON or YAML documents for programs'
            cand --output 'Output format: a table for people, JSON or YAML documents for programs'
            cand --context 'Context (platform connection) to use instead of the current one'
            cand --account 'Account to act in (default: your own)'
            cand --user 'Platform user to act as on an embedded platform (default: the local operator)'
            cand -q 'Print only data and errors'
            cand --quiet 'Print only data and errors'
            cand -v 'Say more about what is happening (repeat for more)'
            cand --verbose 'Say more about what is happening (repeat for more)'
            cand --no-input 'Never prompt; fail listing every missing value instead'
            cand -y 'Answer yes to confirmations'
            cand --yes 'Answer yes to confirmations'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
            cand template 'Environment templates: built-in ones and those in PLAT_TEMPLATE_PATH'
            cand up 'Provision an environment from a template (Terraform/OpenTofu); it is destroyed when it expires'
            cand list 'List this account''s environments'
            cand ls 'List this account''s environments'
            cand show 'Show an environment: status, expiry, resources, outputs'
            cand logs 'Print the Terraform log of an environment''s last run'
            cand outputs 'Print an environment''s outputs (sensitive values redacted)'
            cand extend 'Push an environment''s expiry to now + DURATION (capped by the policy''s maximum lifetime)'
            cand down 'Destroy an environment; an environment already gone is not an error'
            cand quota 'How many environments you may still create today'
            cand reap 'Destroy every expired environment (for cron or a CI schedule)'
            cand approve 'Approve an environment of a protected template; its requester''s `env up` then provisions it'
            cand reject 'Reject an environment of a protected template; nothing is provisioned'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'plat;env;template'= {
            cand -o 'Output format: a table for people, JSON or YAML documents for programs'
            cand --output 'Output format: a table for people, JSON or YAML documents for programs'
            cand --context 'Context (platform connection) to use instead of the current one'
            cand --account 'Account to act in (default: your own)'
            cand --user 'Platform user to act as on an embedded platform (default: the local operator)'
            cand -q 'Print only data and errors'
            cand --quiet 'Print only data and errors'
            cand -v 'Say more about what is happening (repeat for more)'
            cand --verbose 'Say more about what is happening (repeat for more)'
            cand --no-input 'Never prompt; fail listing every missing value instead'
            cand -y 'Answer yes to confirmations'
            cand --yes 'Answer yes to confirmations'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
            cand list 'List the templates'
            cand ls 'List the templates'
            cand show 'Show a template''s parameters and lifetime limits'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'plat;env;template;list'= {
            cand -o 'Output format: a table for people, JSON or YAML documents for programs'
            cand --output 'Output format: a table for people, JSON or YAML documents for programs'
            cand --context 'Context (platform connection) to use instead of the current one'
            cand --account 'Account to act in (default: your own)'
            cand --user 'Platform user to act as on an embedded platform (default: the local operator)'
            cand -q 'Print only data and errors'
            cand --quiet 'Print only data and errors'
            cand -v 'Say more about what is happening (repeat for more)'
            cand --verbose 'Say more about what is happening (repeat for more)'
            cand --no-input 'Never prompt; fail listing every missing value instead'
            cand -y 'Answer yes to confirmations'
            cand --yes 'Answer yes to confirmations'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'plat;env;template;ls'= {
            cand -o 'Output format: a table for people, JSON or YAML documents for programs'
            cand --output 'Output format: a table for people, JSON or YAML documents for programs'
            cand --context 'Context (platform connection) to use instead of the current one'
            cand --account 'Account to act in (default: your own)'
            cand --user 'Platform user to act as on an embedded platform (default: the local operator)'
            cand -q 'Print only data and errors'
            cand --quiet 'Print only data and errors'
            cand -v 'Say more about what is happening (repeat for more)'
            cand --verbose 'Say more about what is happening (repeat for more)'
            cand --no-input 'Never prompt; fail listing every missing value instead'
            cand -y 'Answer yes to confirmations'
            cand --yes 'Answer yes to confirmations'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'plat;env;template;show'= {
            cand -o 'Output format: a table for people, JSON or YAML documents for programs'
            cand --output 'Output format: a table for people, JSON or YAML documents for programs'
            cand --context 'Context (platform connection) to use instead of the current one'
            cand --account 'Account to act in (default: your own)'
            cand --user 'Platform user to act as on an embedded platform (default: the local operator)'
            cand -q 'Print only data and errors'
            cand --quiet 'Print only data and errors'
            cand -v 'Say more about what is happening (repeat for more)'
            cand --verbose 'Say more about what is happening (repeat for more)'
            cand --no-input 'Never prompt; fail listing every missing value instead'
            cand -y 'Answer yes to confirmations'
            cand --yes 'Answer yes to confirmations'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'plat;env;template;help'= {
            cand list 'List the templates'
            cand show 'Show a template''s parameters and lifetime limits'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'plat;env;template;help;list'= {
        }
        &'plat;env;template;help;show'= {
        }
        &'plat;env;template;help;help'= {
        }
        &'plat;env;up'= {
            cand -t 'Template to provision'
            cand --template 'Template to provision'
            cand -p 'Template parameter (repeatable)'
            cand --param 'Template parameter (repeatable)'
            cand --param-file 'YAML file of template parameters (--param wins)'
            cand --ttl 'Lifetime, e.g. 45m or 2h (default: the policy''s, 30m)'
            cand --idempotency-key 'Key that makes a retried `up` return the first try''s environment instead of a new one'
            cand --events 'Stream Terraform events as machine-readable lines'
            cand -o 'Output format: a table for people, JSON or YAML documents for programs'
            cand --output 'Output format: a table for people, JSON or YAML documents for programs'
            cand --context 'Context (platform connection) to use instead of the current one'
            cand --account 'Account to act in (default: your own)'
            cand --user 'Platform user to act as on an embedded platform (default: the local operator)'
            cand --wait 'Wait until the environment is ready (the default); for a template that needs an approval, wait for the decision too (exit 6 when rejected or expired)'
            cand --no-wait 'Return once the environment is recorded; Terraform goes on in the background (follow it with `plat env logs NAME -f`)'
            cand -q 'Print only data and errors'
            cand --quiet 'Print only data and errors'
            cand -v 'Say more about what is happening (repeat for more)'
            cand --verbose 'Say more about what is happening (repeat for more)'
            cand --no-input 'Never prompt; fail listing every missing value instead'
            cand -y 'Answer yes to confirmations'
            cand --yes 'Answer yes to confirmations'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'plat;env;list'= {
            cand -o 'Output format: a table for people, JSON or YAML documents for programs'
            cand --output 'Output format: a table for people, JSON or YAML documents for programs'
            cand --context 'Context (platform connection) to use instead of the current one'
            cand --account 'Account to act in (default: your own)'
            cand --user 'Platform user to act as on an embedded platform (default: the local operator)'
            cand --all 'Include destroyed environments'
            cand -q 'Print only data and errors'
            cand --quiet 'Print only data and errors'
            cand -v 'Say more about what is happening (repeat for more)'
            cand --verbose 'Say more about what is happening (repeat for more)'
            cand --no-input 'Never prompt; fail listing every missing value instead'
            cand -y 'Answer yes to confirmations'
            cand --yes 'Answer yes to confirmations'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'plat;env;ls'= {
            cand -o 'Output format: a table for people, JSON or YAML documents for programs'
            cand --output 'Output format: a table for people, JSON or YAML documents for programs'
            cand --context 'Context (platform connection) to use instead of the current one'
            cand --account 'Account to act in (default: your own)'
            cand --user 'Platform user to act as on an embedded platform (default: the local operator)'
            cand --all 'Include destroyed environments'
            cand -q 'Print only data and errors'
            cand --quiet 'Print only data and errors'
            cand -v 'Say more about what is happening (repeat for more)'
            cand --verbose 'Say more about what is happening (repeat for more)'
            cand --no-input 'Never prompt; fail listing every missing value instead'
            cand -y 'Answer yes to confirmations'
            cand --yes 'Answer yes to confirmations'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'plat;env;show'= {
            cand -o 'Output format: a table for people, JSON or YAML documents for programs'
            cand --output 'Output format: a table for people, JSON or YAML documents for programs'
            cand --context 'Context (platform connection) to use instead of the current one'
            cand --account 'Account to act in (default: your own)'
            cand --user 'Platform user to act as on an embedded platform (default: the local operator)'
            cand -q 'Print only data and errors'
            cand --quiet 'Print only data and errors'
            cand -v 'Say more about what is happening (repeat for more)'
            cand --verbose 'Say more about what is happening (repeat for more)'
            cand --no-input 'Never prompt; fail listing every missing value instead'
            cand -y 'Answer yes to confirmations'
            cand --yes 'Answer yes to confirmations'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'plat;env;logs'= {
            cand -o 'Output format: a table for people, JSON or YAML documents for programs'
            cand --output 'Output format: a table for people, JSON or YAML documents for programs'
            cand --context 'Context (platform connection) to use instead of the current one'
            cand --account 'Account to act in (default: your own)'
            cand --user 'Platform user to act as on an embedded platform (default: the local operator)'
            cand -f 'Keep printing as the log grows, until the environment''s run ends'
            cand --follow 'Keep printing as the log grows, until the environment''s run ends'
            cand -q 'Print only data and errors'
            cand --quiet 'Print only data and errors'
            cand -v 'Say more about what is happening (repeat for more)'
            cand --verbose 'Say more about what is happening (repeat for more)'
            cand --no-input 'Never prompt; fail listing every missing value instead'
            cand -y 'Answer yes to confirmations'
            cand --yes 'Answer yes to confirmations'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'plat;env;outputs'= {
            cand -o 'Output format: a table for people, JSON or YAML documents for programs'
            cand --output 'Output format: a table for people, JSON or YAML documents for programs'
            cand --context 'Context (platform connection) to use instead of the current one'
            cand --account 'Account to act in (default: your own)'
            cand --user 'Platform user to act as on an embedded platform (default: the local operator)'
            cand -q 'Print only data and errors'
            cand --quiet 'Print only data and errors'
            cand -v 'Say more about what is happening (repeat for more)'
            cand --verbose 'Say more about what is happening (repeat for more)'
            cand --no-input 'Never prompt; fail listing every missing value instead'
            cand -y 'Answer yes to confirmations'
            cand --yes 'Answer yes to confirmations'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'plat;env;extend'= {
            cand -o 'Output format: a table for people, JSON or YAML documents for programs'
            cand --output 'Output format: a table for people, JSON or YAML documents for programs'
            cand --context 'Context (platform connection) to use instead of the current one'
            cand --account 'Account to act in (default: your own)'
            cand --user 'Platform user to act as on an embedded platform (default: the local operator)'
            cand -q 'Print only data and errors'
            cand --quiet 'Print only data and errors'
            cand -v 'Say more about what is happening (repeat for more)'
            cand --verbose 'Say more about what is happening (repeat for more)'
            cand --no-input 'Never prompt; fail listing every missing value instead'
            cand -y 'Answer yes to confirmations'
            cand --yes 'Answer yes to confirmations'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'plat;env;down'= {
            cand -o 'Output format: a table for people, JSON or YAML documents for programs'
            cand --output 'Output format: a table for people, JSON or YAML documents for programs'
            cand --context 'Context (platform connection) to use instead of the current one'
            cand --account 'Account to act in (default: your own)'
            cand --user 'Platform user to act as on an embedded platform (default: the local operator)'
            cand -q 'Print only data and errors'
            cand --quiet 'Print only data and errors'
            cand -v 'Say more about what is happening (repeat for more)'
            cand --verbose 'Say more about what is happening (repeat for more)'
            cand --no-input 'Never prompt; fail listing every missing value instead'
            cand -y 'Answer yes to confirmations'
            cand --yes 'Answer yes to confirmations'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'plat;env;quota'= {
            cand -o 'Output format: a table for people, JSON or YAML documents for programs'
            cand --output 'Output format: a table for people, JSON or YAML documents for programs'
            cand --context 'Context (platform connection) to use instead of the current one'
            cand --account 'Account to act in (default: your own)'
            cand --user 'Platform user to act as on an embedded platform (default: the local operator)'
            cand -q 'Print only data and errors'
            cand --quiet 'Print only data and errors'
            cand -v 'Say more about what is happening (repeat for more)'
            cand --verbose 'Say more about what is happening (repeat for more)'
            cand --no-input 'Never prompt; fail listing every missing value instead'
            cand -y 'Answer yes to confirmations'
            cand --yes 'Answer yes to confirmations'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'plat;env;reap'= {
            cand -o 'Output format: a table for people, JSON or YAML documents for programs'
            cand --output 'Output format: a table for people, JSON or YAML documents for programs'
            cand --context 'Context (platform connection) to use instead of the current one'
            cand --account 'Account to act in (default: your own)'
            cand --user 'Platform user to act as on an embedded platform (default: the local operator)'
            cand -q 'Print only data and errors'
            cand --quiet 'Print only data and errors'
            cand -v 'Say more about what is happening (repeat for more)'
            cand --verbose 'Say more about what is happening (repeat for more)'
            cand --no-input 'Never prompt; fail listing every missing value instead'
            cand -y 'Answer yes to confirmations'
            cand --yes 'Answer yes to confirmations'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'plat;env;approve'= {
            cand -m 'Why: shown with the decision in `plat env show`'
            cand --comment 'Why: shown with the decision in `plat env show`'
            cand -o 'Output format: a table for people, JSON or YAML documents for programs'
            cand --output 'Output format: a table for people, JSON or YAML documents for programs'
            cand --context 'Context (platform connection) to use instead of the current one'
            cand --account 'Account to act in (default: your own)'
            cand --user 'Platform user to act as on an embedded platform (default: the local operator)'
            cand -q 'Print only data and errors'
            cand --quiet 'Print only data and errors'
            cand -v 'Say more about what is happening (repeat for more)'
            cand --verbose 'Say more about what is happening (repeat for more)'
            cand --no-input 'Never prompt; fail listing every missing value instead'
            cand -y 'Answer yes to confirmations'
            cand --yes 'Answer yes to confirmations'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'plat;env;reject'= {
            cand -m 'Why: shown with the decision in `plat env show`'
            cand --comment 'Why: shown with the decision in `plat env show`'
            cand -o 'Output format: a table for people, JSON or YAML documents for programs'
            cand --output 'Output format: a table for people, JSON or YAML documents for programs'
            cand --context 'Context (platform connection) to use instead of the current one'
            cand --account 'Account to act in (default: your own)'
            cand --user 'Platform user to act as on an embedded platform (default: the local operator)'
            cand -q 'Print only data and errors'
            cand --quiet 'Print only data and errors'
            cand -v 'Say more about what is happening (repeat for more)'
            cand --verbose 'Say more about what is happening (repeat for more)'
            cand --no-input 'Never prompt; fail listing every missing value instead'
            cand -y 'Answer yes to confirmations'
            cand --yes 'Answer yes to confirmations'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'plat;env;help'= {
            cand template 'Environment templates: built-in ones and those in PLAT_TEMPLATE_PATH'
            cand up 'Provision an environment from a template (Terraform/OpenTofu); it is destroyed when it expires'
            cand list 'List this account''s environments'
            cand show 'Show an environment: status, expiry, resources, outputs'
            cand logs 'Print the Terraform log of an environment''s last run'
            cand outputs 'Print an environment''s outputs (sensitive values redacted)'
            cand extend 'Push an environment''s expiry to now + DURATION (capped by the policy''s maximum lifetime)'
            cand down 'Destroy an environment; an environment already gone is not an error'
            cand quota 'How many environments you may still create today'
            cand reap 'Destroy every expired environment (for cron or a CI schedule)'
            cand approve 'Approve an environment of a protected template; its requester''s `env up` then provisions it'
            cand reject 'Reject an environment of a protected template; nothing is provisioned'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'plat;env;help;template'= {
            cand list 'List the templates'
            cand show 'Show a template''s parameters and lifetime limits'
        }
        &'plat;env;help;template;list'= {
        }
        &'plat;env;help;template;show'= {
        }
        &'plat;env;help;up'= {
        }
        &'plat;env;help;list'= {
        }
        &'plat;env;help;show'= {
        }
        &'plat;env;help;logs'= {
        }
        &'plat;env;help;outputs'= {
        }
        &'plat;env;help;extend'= {
        }
        &'plat;env;help;down'= {
        }
        &'plat;env;help;quota'= {
        }
        &'plat;env;help;reap'= {
        }
        &'plat;env;help;approve'= {
        }
        &'plat;env;help;reject'= {
        }
        &'plat;env;help;help'= {
        }
        &'plat;policy'= {
            cand -o 'Output format: a table for people, JSON or YAML documents for programs'
            cand --output 'Output format: a table for people, JSON or YAML documents for programs'
            cand --context 'Context (platform connection) to use instead of the current one'
            cand --account 'Account to act in (default: your own)'
            cand --user 'Platform user to act as on an embedded platform (default: the local operator)'
            cand -q 'Print only data and errors'
            cand --quiet 'Print only data and errors'
            cand -v 'Say more about what is happening (repeat for more)'
            cand --verbose 'Say more about what is happening (repeat for more)'
            cand --no-input 'Never prompt; fail listing every missing value instead'
            cand -y 'Answer yes to confirmations'
            cand --yes 'Answer yes to confirmations'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
            cand show 'Show the environment policy in force for the current account'
            cand set 'Tighten the environment policy of the current account, or of a tenant it owns'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'plat;policy;show'= {
            cand -o 'Output format: a table for people, JSON or YAML documents for programs'
            cand --output 'Output format: a table for people, JSON or YAML documents for programs'
            cand --context 'Context (platform connection) to use instead of the current one'
            cand --account 'Account to act in (default: your own)'
            cand --user 'Platform user to act as on an embedded platform (default: the local operator)'
            cand -q 'Print only data and errors'
            cand --quiet 'Print only data and errors'
            cand -v 'Say more about what is happening (repeat for more)'
            cand --verbose 'Say more about what is happening (repeat for more)'
            cand --no-input 'Never prompt; fail listing every missing value instead'
            cand -y 'Answer yes to confirmations'
            cand --yes 'Answer yes to confirmations'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'plat;policy;set'= {
            cand --tenant 'Set the policy of this tenant instead of the current account''s'
            cand --ttl-default 'Default lifetime of new environments, e.g. 30m'
            cand --ttl-max 'Maximum lifetime from creation, e.g. 8h'
            cand --envs-per-day 'Environments each user may create per day (UTC)'
            cand --require-approval 'Environments of this template need an approver''s decision first (repeatable)'
            cand --no-require-approval 'Stop requiring approval for this template here (one set above still holds; repeatable)'
            cand --budget-monthly 'Monthly budget of the account and its sub-accounts, in the platform''s currency'
            cand -o 'Output format: a table for people, JSON or YAML documents for programs'
            cand --output 'Output format: a table for people, JSON or YAML documents for programs'
            cand --context 'Context (platform connection) to use instead of the current one'
            cand --account 'Account to act in (default: your own)'
            cand --user 'Platform user to act as on an embedded platform (default: the local operator)'
            cand -q 'Print only data and errors'
            cand --quiet 'Print only data and errors'
            cand -v 'Say more about what is happening (repeat for more)'
            cand --verbose 'Say more about what is happening (repeat for more)'
            cand --no-input 'Never prompt; fail listing every missing value instead'
            cand -y 'Answer yes to confirmations'
            cand --yes 'Answer yes to confirmations'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'plat;policy;help'= {
            cand show 'Show the environment policy in force for the current account'
            cand set 'Tighten the environment policy of the current account, or of a tenant it owns'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'plat;policy;help;show'= {
        }
        &'plat;policy;help;set'= {
        }
        &'plat;policy;help;help'= {
        }
        &'plat;audit'= {
            cand -o 'Output format: a table for people, JSON or YAML documents for programs'
            cand --output 'Output format: a table for people, JSON or YAML documents for programs'
            cand --context 'Context (platform connection) to use instead of the current one'
            cand --account 'Account to act in (default: your own)'
            cand --user 'Platform user to act as on an embedded platform (default: the local operator)'
            cand -q 'Print only data and errors'
            cand --quiet 'Print only data and errors'
            cand -v 'Say more about what is happening (repeat for more)'
            cand --verbose 'Say more about what is happening (repeat for more)'
            cand --no-input 'Never prompt; fail listing every missing value instead'
            cand -y 'Answer yes to confirmations'
            cand --yes 'Answer yes to confirmations'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
            cand list 'List who did what in this account and its sub-accounts, newest first (needs audit:read)'
            cand ls 'List who did what in this account and its sub-accounts, newest first (needs audit:read)'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'plat;audit;list'= {
            cand --since 'Only records this recent: an age such as 24h or 7d'
            cand --actor 'Only what this user (or service identity) did'
            cand --action 'Only this action, e.g. env.down, account.create, group.update'
            cand --outcome 'Only writes that went through, or only refusals'
            cand --limit 'Show at most this many records'
            cand -o 'Output format: a table for people, JSON or YAML documents for programs'
            cand --output 'Output format: a table for people, JSON or YAML documents for programs'
            cand --context 'Context (platform connection) to use instead of the current one'
            cand --account 'Account to act in (default: your own)'
            cand --user 'Platform user to act as on an embedded platform (default: the local operator)'
            cand -q 'Print only data and errors'
            cand --quiet 'Print only data and errors'
            cand -v 'Say more about what is happening (repeat for more)'
            cand --verbose 'Say more about what is happening (repeat for more)'
            cand --no-input 'Never prompt; fail listing every missing value instead'
            cand -y 'Answer yes to confirmations'
            cand --yes 'Answer yes to confirmations'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'plat;audit;ls'= {
            cand --since 'Only records this recent: an age such as 24h or 7d'
            cand --actor 'Only what this user (or service identity) did'
            cand --action 'Only this action, e.g. env.down, account.create, group.update'
            cand --outcome 'Only writes that went through, or only refusals'
            cand --limit 'Show at most this many records'
            cand -o 'Output format: a table for people, JSON or YAML documents for programs'
            cand --output 'Output format: a table for people, JSON or YAML documents for programs'
            cand --context 'Context (platform connection) to use instead of the current one'
            cand --account 'Account to act in (default: your own)'
            cand --user 'Platform user to act as on an embedded platform (default: the local operator)'
            cand -q 'Print only data and errors'
            cand --quiet 'Print only data and errors'
            cand -v 'Say more about what is happening (repeat for more)'
            cand --verbose 'Say more about what is happening (repeat for more)'
            cand --no-input 'Never prompt; fail listing every missing value instead'
            cand -y 'Answer yes to confirmations'
            cand --yes 'Answer yes to confirmations'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'plat;audit;help'= {
            cand list 'List who did what in this account and its sub-accounts, newest first (needs audit:read)'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'plat;audit;help;list'= {
        }
        &'plat;audit;help;help'= {
        }
        &'plat;spend'= {
            cand --by 'Sum by account, tenant, template, owner or label:KEY (e.g. label:appgear.io/suite)'
            cand --month 'Month to report, YYYY-MM (UTC; default: this month, up to now)'
            cand -o 'Output format: a table for people, JSON or YAML documents for programs'
            cand --output 'Output format: a table for people, JSON or YAML documents for programs'
            cand --context 'Context (platform connection) to use instead of the current one'
            cand --account 'Account to act in (default: your own)'
            cand --user 'Platform user to act as on an embedded platform (default: the local operator)'
            cand -q 'Print only data and errors'
            cand --quiet 'Print only data and errors'
            cand -v 'Say more about what is happening (repeat for more)'
            cand --verbose 'Say more about what is happening (repeat for more)'
            cand --no-input 'Never prompt; fail listing every missing value instead'
            cand -y 'Answer yes to confirmations'
            cand --yes 'Answer yes to confirmations'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'plat;automation'= {
            cand -o 'Output format: a table for people, JSON or YAML documents for programs'
            cand --output 'Output format: a table for people, JSON or YAML documents for programs'
            cand --context 'Context (platform connection) to use instead of the current one'
            cand --account 'Account to act in (default: your own)'
            cand --user 'Platform user to act as on an embedded platform (default: the local operator)'
            cand -q 'Print only data and errors'
            cand --quiet 'Print only data and errors'
            cand -v 'Say more about what is happening (repeat for more)'
            cand --verbose 'Say more about what is happening (repeat for more)'
            cand --no-input 'Never prompt; fail listing every missing value instead'
            cand -y 'Answer yes to confirmations'
            cand --yes 'Answer yes to confirmations'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
            cand apply 'Create or update an automation from a YAML definition (apiVersion: plat.dev/v1, kind: Automation)'
            cand list 'List this account''s automations'
            cand ls 'List this account''s automations'
            cand show 'Show an automation: trigger, parameters, steps'
            cand delete 'Delete an automation (its runs stay on record)'
            cand rm 'Delete an automation (its runs stay on record)'
            cand run 'Run an automation now and follow it; exits 0 when it succeeds, 1 when it fails'
            cand runs 'List runs, newest first'
            cand logs 'Print the log of a run'
            cand cancel 'Stop a run: its running step is killed'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'plat;automation;apply'= {
            cand -f 'Definition file (YAML), or - for stdin'
            cand --file 'Definition file (YAML), or - for stdin'
            cand -o 'Output format: a table for people, JSON or YAML documents for programs'
            cand --output 'Output format: a table for people, JSON or YAML documents for programs'
            cand --context 'Context (platform connection) to use instead of the current one'
            cand --account 'Account to act in (default: your own)'
            cand --user 'Platform user to act as on an embedded platform (default: the local operator)'
            cand -q 'Print only data and errors'
            cand --quiet 'Print only data and errors'
            cand -v 'Say more about what is happening (repeat for more)'
            cand --verbose 'Say more about what is happening (repeat for more)'
            cand --no-input 'Never prompt; fail listing every missing value instead'
            cand -y 'Answer yes to confirmations'
            cand --yes 'Answer yes to confirmations'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'plat;automation;list'= {
            cand -o 'Output format: a table for people, JSON or YAML documents for programs'
            cand --output 'Output format: a table for people, JSON or YAML documents for programs'
            cand --context 'Context (platform connection) to use instead of the current one'
            cand --account 'Account to act in (default: your own)'
            cand --user 'Platform user to act as on an embedded platform (default: the local operator)'
            cand -q 'Print only data and errors'
            cand --quiet 'Print only data and errors'
            cand -v 'Say more about what is happening (repeat for more)'
            cand --verbose 'Say more about what is happening (repeat for more)'
            cand --no-input 'Never prompt; fail listing every missing value instead'
            cand -y 'Answer yes to confirmations'
            cand --yes 'Answer yes to confirmations'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'plat;automation;ls'= {
            cand -o 'Output format: a table for people, JSON or YAML documents for programs'
            cand --output 'Output format: a table for people, JSON or YAML documents for programs'
            cand --context 'Context (platform connection) to use instead of the current one'
            cand --account 'Account to act in (default: your own)'
            cand --user 'Platform user to act as on an embedded platform (default: the local operator)'
            cand -q 'Print only data and errors'
            cand --quiet 'Print only data and errors'
            cand -v 'Say more about what is happening (repeat for more)'
            cand --verbose 'Say more about what is happening (repeat for more)'
            cand --no-input 'Never prompt; fail listing every missing value instead'
            cand -y 'Answer yes to confirmations'
            cand --yes 'Answer yes to confirmations'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'plat;automation;show'= {
            cand -o 'Output format: a table for people, JSON or YAML documents for programs'
            cand --output 'Output format: a table for people, JSON or YAML documents for programs'
            cand --context 'Context (platform connection) to use instead of the current one'
            cand --account 'Account to act in (default: your own)'
            cand --user 'Platform user to act as on an embedded platform (default: the local operator)'
            cand -q 'Print only data and errors'
            cand --quiet 'Print only data and errors'
            cand -v 'Say more about what is happening (repeat for more)'
            cand --verbose 'Say more about what is happening (repeat for more)'
            cand --no-input 'Never prompt; fail listing every missing value instead'
            cand -y 'Answer yes to confirmations'
            cand --yes 'Answer yes to confirmations'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'plat;automation;delete'= {
            cand -o 'Output format: a table for people, JSON or YAML documents for programs'
            cand --output 'Output format: a table for people, JSON or YAML documents for programs'
            cand --context 'Context (platform connection) to use instead of the current one'
            cand --account 'Account to act in (default: your own)'
            cand --user 'Platform user to act as on an embedded platform (default: the local operator)'
            cand -q 'Print only data and errors'
            cand --quiet 'Print only data and errors'
            cand -v 'Say more about what is happening (repeat for more)'
            cand --verbose 'Say more about what is happening (repeat for more)'
            cand --no-input 'Never prompt; fail listing every missing value instead'
            cand -y 'Answer yes to confirmations'
            cand --yes 'Answer yes to confirmations'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'plat;automation;rm'= {
            cand -o 'Output format: a table for people, JSON or YAML documents for programs'
            cand --output 'Output format: a table for people, JSON or YAML documents for programs'
            cand --context 'Context (platform connection) to use instead of the current one'
            cand --account 'Account to act in (default: your own)'
            cand --user 'Platform user to act as on an embedded platform (default: the local operator)'
            cand -q 'Print only data and errors'
            cand --quiet 'Print only data and errors'
            cand -v 'Say more about what is happening (repeat for more)'
            cand --verbose 'Say more about what is happening (repeat for more)'
            cand --no-input 'Never prompt; fail listing every missing value instead'
            cand -y 'Answer yes to confirmations'
            cand --yes 'Answer yes to confirmations'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'plat;automation;run'= {
            cand -p 'Parameter value (repeatable)'
            cand --param 'Parameter value (repeatable)'
            cand -o 'Output format: a table for people, JSON or YAML documents for programs'
            cand --output 'Output format: a table for people, JSON or YAML documents for programs'
            cand --context 'Context (platform connection) to use instead of the current one'
            cand --account 'Account to act in (default: your own)'
            cand --user 'Platform user to act as on an embedded platform (default: the local operator)'
            cand --wait 'Wait for the run to end and exit with its result (the default)'
            cand --detach 'Queue the run for the server''s workers and return at once (needs `plat server`)'
            cand -q 'Print only data and errors'
            cand --quiet 'Print only data and errors'
            cand -v 'Say more about what is happening (repeat for more)'
            cand --verbose 'Say more about what is happening (repeat for more)'
            cand --no-input 'Never prompt; fail listing every missing value instead'
            cand -y 'Answer yes to confirmations'
            cand --yes 'Answer yes to confirmations'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'plat;automation;runs'= {
            cand -o 'Output format: a table for people, JSON or YAML documents for programs'
            cand --output 'Output format: a table for people, JSON or YAML documents for programs'
            cand --context 'Context (platform connection) to use instead of the current one'
            cand --account 'Account to act in (default: your own)'
            cand --user 'Platform user to act as on an embedded platform (default: the local operator)'
            cand -q 'Print only data and errors'
            cand --quiet 'Print only data and errors'
            cand -v 'Say more about what is happening (repeat for more)'
            cand --verbose 'Say more about what is happening (repeat for more)'
            cand --no-input 'Never prompt; fail listing every missing value instead'
            cand -y 'Answer yes to confirmations'
            cand --yes 'Answer yes to confirmations'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'plat;automation;logs'= {
            cand -o 'Output format: a table for people, JSON or YAML documents for programs'
            cand --output 'Output format: a table for people, JSON or YAML documents for programs'
            cand --context 'Context (platform connection) to use instead of the current one'
            cand --account 'Account to act in (default: your own)'
            cand --user 'Platform user to act as on an embedded platform (default: the local operator)'
            cand -f 'Keep printing as the log grows, until the run ends'
            cand --follow 'Keep printing as the log grows, until the run ends'
            cand -q 'Print only data and errors'
            cand --quiet 'Print only data and errors'
            cand -v 'Say more about what is happening (repeat for more)'
            cand --verbose 'Say more about what is happening (repeat for more)'
            cand --no-input 'Never prompt; fail listing every missing value instead'
            cand -y 'Answer yes to confirmations'
            cand --yes 'Answer yes to confirmations'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'plat;automation;cancel'= {
            cand -o 'Output format: a table for people, JSON or YAML documents for programs'
            cand --output 'Output format: a table for people, JSON or YAML documents for programs'
            cand --context 'Context (platform connection) to use instead of the current one'
            cand --account 'Account to act in (default: your own)'
            cand --user 'Platform user to act as on an embedded platform (default: the local operator)'
            cand -q 'Print only data and errors'
            cand --quiet 'Print only data and errors'
            cand -v 'Say more about what is happening (repeat for more)'
            cand --verbose 'Say more about what is happening (repeat for more)'
            cand --no-input 'Never prompt; fail listing every missing value instead'
            cand -y 'Answer yes to confirmations'
            cand --yes 'Answer yes to confirmations'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'plat;automation;help'= {
            cand apply 'Create or update an automation from a YAML definition (apiVersion: plat.dev/v1, kind: Automation)'
            cand list 'List this account''s automations'
            cand show 'Show an automation: trigger, parameters, steps'
            cand delete 'Delete an automation (its runs stay on record)'
            cand run 'Run an automation now and follow it; exits 0 when it succeeds, 1 when it fails'
            cand runs 'List runs, newest first'
            cand logs 'Print the log of a run'
            cand cancel 'Stop a run: its running step is killed'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'plat;automation;help;apply'= {
        }
        &'plat;automation;help;list'= {
        }
        &'plat;automation;help;show'= {
        }
        &'plat;automation;help;delete'= {
        }
        &'plat;automation;help;run'= {
        }
        &'plat;automation;help;runs'= {
        }
        &'plat;automation;help;logs'= {
        }
        &'plat;automation;help;cancel'= {
        }
        &'plat;automation;help;help'= {
        }
        &'plat;scan'= {
            cand --tf-state 'Terraform state: `terraform show -json` output or a raw .tfstate (''-'' reads stdin)'
            cand --env 'Scan the Terraform state of this environment (see `plat env list`)'
            cand --kube-context 'Kubeconfig context to scan instead of the current one'
            cand --namespace 'Scan only this namespace of the cluster (cluster-scoped kinds are then skipped)'
            cand --format 'Report format (default: the global -o)'
            cand --fail-on 'Lowest severity that makes the command exit 3'
            cand --policy 'Directory of Rego policies in conftest''s layout (`package main`, deny/warn rules); repeatable (default: .plat/policies/ in the current directory, if present)'
            cand --config 'Scan configuration (default: .plat/scan.yaml in the current directory, if present)'
            cand --publish-name 'Name to publish under (default: env-NAME, cluster-CONTEXT or the directory''s name)'
            cand -o 'Output format: a table for people, JSON or YAML documents for programs'
            cand --output 'Output format: a table for people, JSON or YAML documents for programs'
            cand --context 'Context (platform connection) to use instead of the current one'
            cand --account 'Account to act in (default: your own)'
            cand --user 'Platform user to act as on an embedded platform (default: the local operator)'
            cand --kube 'Scan the live cluster of the kubeconfig''s current context'
            cand --skip-unparsable 'Only warn about files that cannot be read or parsed, instead of reporting each as a PLAT016 error finding'
            cand --publish 'Attach the inventory to the account (and to the environment with --env) in the platform, where `plat scan list` and the Backstage catalog (/api/v1/catalog) find it; a re-scan of the same source replaces it'
            cand -q 'Print only data and errors'
            cand --quiet 'Print only data and errors'
            cand -v 'Say more about what is happening (repeat for more)'
            cand --verbose 'Say more about what is happening (repeat for more)'
            cand --no-input 'Never prompt; fail listing every missing value instead'
            cand -y 'Answer yes to confirmations'
            cand --yes 'Answer yes to confirmations'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
            cand rules 'List the rule catalogue: id, name, default severity, target and how to fix, then the rules of the Rego policies (--policy DIR, else .plat/policies/)'
            cand list 'List the inventories this account has published with --publish'
            cand show 'Show a published inventory: summary and findings, or its Backstage entities'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'plat;scan;rules'= {
            cand --policy 'Directory of Rego policies to list too (repeatable; default: .plat/policies/)'
            cand -o 'Output format: a table for people, JSON or YAML documents for programs'
            cand --output 'Output format: a table for people, JSON or YAML documents for programs'
            cand --context 'Context (platform connection) to use instead of the current one'
            cand --account 'Account to act in (default: your own)'
            cand --user 'Platform user to act as on an embedded platform (default: the local operator)'
            cand -q 'Print only data and errors'
            cand --quiet 'Print only data and errors'
            cand -v 'Say more about what is happening (repeat for more)'
            cand --verbose 'Say more about what is happening (repeat for more)'
            cand --no-input 'Never prompt; fail listing every missing value instead'
            cand -y 'Answer yes to confirmations'
            cand --yes 'Answer yes to confirmations'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'plat;scan;list'= {
            cand -o 'Output format: a table for people, JSON or YAML documents for programs'
            cand --output 'Output format: a table for people, JSON or YAML documents for programs'
            cand --context 'Context (platform connection) to use instead of the current one'
            cand --account 'Account to act in (default: your own)'
            cand --user 'Platform user to act as on an embedded platform (default: the local operator)'
            cand -q 'Print only data and errors'
            cand --quiet 'Print only data and errors'
            cand -v 'Say more about what is happening (repeat for more)'
            cand --verbose 'Say more about what is happening (repeat for more)'
            cand --no-input 'Never prompt; fail listing every missing value instead'
            cand -y 'Answer yes to confirmations'
            cand --yes 'Answer yes to confirmations'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'plat;scan;show'= {
            cand -o 'Output format: a table for people, JSON or YAML documents for programs'
            cand --output 'Output format: a table for people, JSON or YAML documents for programs'
            cand --context 'Context (platform connection) to use instead of the current one'
            cand --account 'Account to act in (default: your own)'
            cand --user 'Platform user to act as on an embedded platform (default: the local operator)'
            cand --entities 'Print the Backstage catalog entities (multi-document YAML) instead'
            cand -q 'Print only data and errors'
            cand --quiet 'Print only data and errors'
            cand -v 'Say more about what is happening (repeat for more)'
            cand --verbose 'Say more about what is happening (repeat for more)'
            cand --no-input 'Never prompt; fail listing every missing value instead'
            cand -y 'Answer yes to confirmations'
            cand --yes 'Answer yes to confirmations'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'plat;scan;help'= {
            cand rules 'List the rule catalogue: id, name, default severity, target and how to fix, then the rules of the Rego policies (--policy DIR, else .plat/policies/)'
            cand list 'List the inventories this account has published with --publish'
            cand show 'Show a published inventory: summary and findings, or its Backstage entities'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'plat;scan;help;rules'= {
        }
        &'plat;scan;help;list'= {
        }
        &'plat;scan;help;show'= {
        }
        &'plat;scan;help;help'= {
        }
        &'plat;scaffold'= {
            cand -o 'Output format: a table for people, JSON or YAML documents for programs'
            cand --output 'Output format: a table for people, JSON or YAML documents for programs'
            cand --context 'Context (platform connection) to use instead of the current one'
            cand --account 'Account to act in (default: your own)'
            cand --user 'Platform user to act as on an embedded platform (default: the local operator)'
            cand -q 'Print only data and errors'
            cand --quiet 'Print only data and errors'
            cand -v 'Say more about what is happening (repeat for more)'
            cand --verbose 'Say more about what is happening (repeat for more)'
            cand --no-input 'Never prompt; fail listing every missing value instead'
            cand -y 'Answer yes to confirmations'
            cand --yes 'Answer yes to confirmations'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
            cand list 'List the templates: built-in ones and those in PLAT_TEMPLATE_PATH'
            cand ls 'List the templates: built-in ones and those in PLAT_TEMPLATE_PATH'
            cand show 'Show a template''s parameters: title, type, required, default and choices'
            cand run 'Create a project from a template, offline; publish it with git when the template says so'
            cand update 'Bring a generated project up to date with its template (three-way merge; exit 3 on conflicts)'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'plat;scaffold;list'= {
            cand -o 'Output format: a table for people, JSON or YAML documents for programs'
            cand --output 'Output format: a table for people, JSON or YAML documents for programs'
            cand --context 'Context (platform connection) to use instead of the current one'
            cand --account 'Account to act in (default: your own)'
            cand --user 'Platform user to act as on an embedded platform (default: the local operator)'
            cand -q 'Print only data and errors'
            cand --quiet 'Print only data and errors'
            cand -v 'Say more about what is happening (repeat for more)'
            cand --verbose 'Say more about what is happening (repeat for more)'
            cand --no-input 'Never prompt; fail listing every missing value instead'
            cand -y 'Answer yes to confirmations'
            cand --yes 'Answer yes to confirmations'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'plat;scaffold;ls'= {
            cand -o 'Output format: a table for people, JSON or YAML documents for programs'
            cand --output 'Output format: a table for people, JSON or YAML documents for programs'
            cand --context 'Context (platform connection) to use instead of the current one'
            cand --account 'Account to act in (default: your own)'
            cand --user 'Platform user to act as on an embedded platform (default: the local operator)'
            cand -q 'Print only data and errors'
            cand --quiet 'Print only data and errors'
            cand -v 'Say more about what is happening (repeat for more)'
            cand --verbose 'Say more about what is happening (repeat for more)'
            cand --no-input 'Never prompt; fail listing every missing value instead'
            cand -y 'Answer yes to confirmations'
            cand --yes 'Answer yes to confirmations'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'plat;scaffold;show'= {
            cand -o 'Output format: a table for people, JSON or YAML documents for programs'
            cand --output 'Output format: a table for people, JSON or YAML documents for programs'
            cand --context 'Context (platform connection) to use instead of the current one'
            cand --account 'Account to act in (default: your own)'
            cand --user 'Platform user to act as on an embedded platform (default: the local operator)'
            cand -q 'Print only data and errors'
            cand --quiet 'Print only data and errors'
            cand -v 'Say more about what is happening (repeat for more)'
            cand --verbose 'Say more about what is happening (repeat for more)'
            cand --no-input 'Never prompt; fail listing every missing value instead'
            cand -y 'Answer yes to confirmations'
            cand --yes 'Answer yes to confirmations'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'plat;scaffold;run'= {
            cand -s 'Template parameter (repeatable; wins over --values)'
            cand --set 'Template parameter (repeatable; wins over --values)'
            cand -f 'YAML file of template parameters (repeatable; later files win)'
            cand --values 'YAML file of template parameters (repeatable; later files win)'
            cand -o 'Output format: a table for people, JSON or YAML documents for programs'
            cand --output 'Output format: a table for people, JSON or YAML documents for programs'
            cand --context 'Context (platform connection) to use instead of the current one'
            cand --account 'Account to act in (default: your own)'
            cand --user 'Platform user to act as on an embedded platform (default: the local operator)'
            cand --dry-run 'List the files that would be written; write nothing and call no remote'
            cand --no-git 'Skip the template''s publish:* steps (no repository is created or pushed)'
            cand --trust 'Run the template''s hooks (shell commands); review the template first'
            cand --force 'Write into a target directory that is not empty'
            cand -q 'Print only data and errors'
            cand --quiet 'Print only data and errors'
            cand -v 'Say more about what is happening (repeat for more)'
            cand --verbose 'Say more about what is happening (repeat for more)'
            cand --no-input 'Never prompt; fail listing every missing value instead'
            cand -y 'Answer yes to confirmations'
            cand --yes 'Answer yes to confirmations'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'plat;scaffold;update'= {
            cand -s 'Change an answer (repeatable); the others come from .plat-answers.yml'
            cand --set 'Change an answer (repeatable); the others come from .plat-answers.yml'
            cand --conflict 'How to leave conflicting changes'
            cand -o 'Output format: a table for people, JSON or YAML documents for programs'
            cand --output 'Output format: a table for people, JSON or YAML documents for programs'
            cand --context 'Context (platform connection) to use instead of the current one'
            cand --account 'Account to act in (default: your own)'
            cand --user 'Platform user to act as on an embedded platform (default: the local operator)'
            cand --dry-run 'Show what would change; write nothing'
            cand --trust 'Run the template''s hooks while re-rendering'
            cand -q 'Print only data and errors'
            cand --quiet 'Print only data and errors'
            cand -v 'Say more about what is happening (repeat for more)'
            cand --verbose 'Say more about what is happening (repeat for more)'
            cand --no-input 'Never prompt; fail listing every missing value instead'
            cand -y 'Answer yes to confirmations'
            cand --yes 'Answer yes to confirmations'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'plat;scaffold;help'= {
            cand list 'List the templates: built-in ones and those in PLAT_TEMPLATE_PATH'
            cand show 'Show a template''s parameters: title, type, required, default and choices'
            cand run 'Create a project from a template, offline; publish it with git when the template says so'
            cand update 'Bring a generated project up to date with its template (three-way merge; exit 3 on conflicts)'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'plat;scaffold;help;list'= {
        }
        &'plat;scaffold;help;show'= {
        }
        &'plat;scaffold;help;run'= {
        }
        &'plat;scaffold;help;update'= {
        }
        &'plat;scaffold;help;help'= {
        }
        &'plat;login'= {
            cand --server 'URL of the plat server (default: the current context''s server)'
            cand --audience 'The audience of the job''s ID token, the trust rule''s --audience (default: plat; only for a GitHub Actions login)'
            cand -o 'Output format: a table for people, JSON or YAML documents for programs'
            cand --output 'Output format: a table for people, JSON or YAML documents for programs'
            cand --context 'Context (platform connection) to use instead of the current one'
            cand --account 'Account to act in (default: your own)'
            cand --user 'Platform user to act as on an embedded platform (default: the local operator)'
            cand --insecure-storage 'Keep the refresh token in a file readable only by you instead of the OS keyring'
            cand --with-token 'Read an access token from standard input instead of running the device flow'
            cand --github-actions 'Log in as this GitHub Actions job with its OIDC ID token (the job needs `permissions: id-token: write`, the server a `plat trust` rule). No token is stored: every later plat command of the job asks the runner for a fresh one. The default in a job that may request ID tokens, unless --with-token is given'
            cand -q 'Print only data and errors'
            cand --quiet 'Print only data and errors'
            cand -v 'Say more about what is happening (repeat for more)'
            cand --verbose 'Say more about what is happening (repeat for more)'
            cand --no-input 'Never prompt; fail listing every missing value instead'
            cand -y 'Answer yes to confirmations'
            cand --yes 'Answer yes to confirmations'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'plat;logout'= {
            cand -o 'Output format: a table for people, JSON or YAML documents for programs'
            cand --output 'Output format: a table for people, JSON or YAML documents for programs'
            cand --context 'Context (platform connection) to use instead of the current one'
            cand --account 'Account to act in (default: your own)'
            cand --user 'Platform user to act as on an embedded platform (default: the local operator)'
            cand --no-revoke 'Only forget the stored tokens; do not ask the identity provider to revoke them'
            cand -q 'Print only data and errors'
            cand --quiet 'Print only data and errors'
            cand -v 'Say more about what is happening (repeat for more)'
            cand --verbose 'Say more about what is happening (repeat for more)'
            cand --no-input 'Never prompt; fail listing every missing value instead'
            cand -y 'Answer yes to confirmations'
            cand --yes 'Answer yes to confirmations'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'plat;auth'= {
            cand -o 'Output format: a table for people, JSON or YAML documents for programs'
            cand --output 'Output format: a table for people, JSON or YAML documents for programs'
            cand --context 'Context (platform connection) to use instead of the current one'
            cand --account 'Account to act in (default: your own)'
            cand --user 'Platform user to act as on an embedded platform (default: the local operator)'
            cand -q 'Print only data and errors'
            cand --quiet 'Print only data and errors'
            cand -v 'Say more about what is happening (repeat for more)'
            cand --verbose 'Say more about what is happening (repeat for more)'
            cand --no-input 'Never prompt; fail listing every missing value instead'
            cand -y 'Answer yes to confirmations'
            cand --yes 'Answer yes to confirmations'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
            cand status 'Show whether you are logged in to the current context, as whom, until when'
            cand token 'Print a valid access token (refreshed if needed) for use in scripts'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'plat;auth;status'= {
            cand -o 'Output format: a table for people, JSON or YAML documents for programs'
            cand --output 'Output format: a table for people, JSON or YAML documents for programs'
            cand --context 'Context (platform connection) to use instead of the current one'
            cand --account 'Account to act in (default: your own)'
            cand --user 'Platform user to act as on an embedded platform (default: the local operator)'
            cand -q 'Print only data and errors'
            cand --quiet 'Print only data and errors'
            cand -v 'Say more about what is happening (repeat for more)'
            cand --verbose 'Say more about what is happening (repeat for more)'
            cand --no-input 'Never prompt; fail listing every missing value instead'
            cand -y 'Answer yes to confirmations'
            cand --yes 'Answer yes to confirmations'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'plat;auth;token'= {
            cand -o 'Output format: a table for people, JSON or YAML documents for programs'
            cand --output 'Output format: a table for people, JSON or YAML documents for programs'
            cand --context 'Context (platform connection) to use instead of the current one'
            cand --account 'Account to act in (default: your own)'
            cand --user 'Platform user to act as on an embedded platform (default: the local operator)'
            cand -q 'Print only data and errors'
            cand --quiet 'Print only data and errors'
            cand -v 'Say more about what is happening (repeat for more)'
            cand --verbose 'Say more about what is happening (repeat for more)'
            cand --no-input 'Never prompt; fail listing every missing value instead'
            cand -y 'Answer yes to confirmations'
            cand --yes 'Answer yes to confirmations'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'plat;auth;help'= {
            cand status 'Show whether you are logged in to the current context, as whom, until when'
            cand token 'Print a valid access token (refreshed if needed) for use in scripts'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'plat;auth;help;status'= {
        }
        &'plat;auth;help;token'= {
        }
        &'plat;auth;help;help'= {
        }
        &'plat;server'= {
            cand --listen 'Address to listen on'
            cand --database-url 'Database: postgres://USER@HOST:PORT/DB or sqlite://PATH (default: SQLite in the data dir)'
            cand --oidc-issuer 'OpenID Connect issuer whose tokens the server accepts'
            cand --oidc-client-id 'OAuth client id the CLI uses for the device flow'
            cand --oidc-audience 'Audience access tokens must carry (default: the client id)'
            cand --oidc-username-claim 'Access-token claim that names the user, e.g. upn, preferred_username, sub: its value (an e-mail) links a new IdP subject to the platform user with that e-mail, so tokens need no `email` claim; a claim missing from a token is asked of the IdP''s userinfo endpoint'
            cand --oidc-groups-claim 'Access-token claim listing the user''s IdP groups, e.g. groups, or a dotted path such as Keycloak''s realm_access.roles. Account admins map them to platform groups (`plat group link-idp`); they are re-read from every token, never stored. Unset: groups are ignored'
            cand --bootstrap-admin 'E-mail of the user who owns the master account'
            cand --master-account 'Slug of the master account'
            cand --default-domain 'Domain of the default tenant'
            cand --amqp-url 'RabbitMQ URL (amqp://user:pass@host:5672/vhost): consume the queues of queue-triggered automations (one run per message), and hand queued runs to workers through the broker'
            cand --amqp-runs-queue 'RabbitMQ queue queued runs are handed to workers through; give each platform sharing a broker its own'
            cand --workers 'Automation workers per replica'
            cand --run-lease-seconds 'Seconds a worker holds a run between renewals; a run whose worker died is reclaimed after this'
            cand --run-max-attempts 'Attempts a run gets when its worker dies before it is marked failed'
            cand --db-acquire-timeout-ms 'Milliseconds a request waits for a database connection before failing with 503'
            cand --db-statement-timeout-ms 'Milliseconds one database statement may run (SQLite: may wait for the write lock)'
            cand --audit-retention 'Keep audit records this long (e.g. 365d, at least 1d), pruning older ones hourly with a record of each pruning; without it records are kept for ever'
            cand --currency 'Currency of template costs, budgets and spend (an ISO 4217 code)'
            cand -o 'Output format: a table for people, JSON or YAML documents for programs'
            cand --output 'Output format: a table for people, JSON or YAML documents for programs'
            cand --context 'Context (platform connection) to use instead of the current one'
            cand --account 'Account to act in (default: your own)'
            cand --user 'Platform user to act as on an embedded platform (default: the local operator)'
            cand -q 'Print only data and errors'
            cand --quiet 'Print only data and errors'
            cand -v 'Say more about what is happening (repeat for more)'
            cand --verbose 'Say more about what is happening (repeat for more)'
            cand --no-input 'Never prompt; fail listing every missing value instead'
            cand -y 'Answer yes to confirmations'
            cand --yes 'Answer yes to confirmations'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
            cand migrate 'Create or upgrade the database schema, then exit'
            cand openapi 'Print the OpenAPI document the server serves at /api/v1/openapi.json'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'plat;server;migrate'= {
            cand --database-url 'Database: postgres://USER@HOST:PORT/DB or sqlite://PATH'
            cand -o 'Output format: a table for people, JSON or YAML documents for programs'
            cand --output 'Output format: a table for people, JSON or YAML documents for programs'
            cand --context 'Context (platform connection) to use instead of the current one'
            cand --account 'Account to act in (default: your own)'
            cand --user 'Platform user to act as on an embedded platform (default: the local operator)'
            cand -q 'Print only data and errors'
            cand --quiet 'Print only data and errors'
            cand -v 'Say more about what is happening (repeat for more)'
            cand --verbose 'Say more about what is happening (repeat for more)'
            cand --no-input 'Never prompt; fail listing every missing value instead'
            cand -y 'Answer yes to confirmations'
            cand --yes 'Answer yes to confirmations'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'plat;server;openapi'= {
            cand -o 'Output format: a table for people, JSON or YAML documents for programs'
            cand --output 'Output format: a table for people, JSON or YAML documents for programs'
            cand --context 'Context (platform connection) to use instead of the current one'
            cand --account 'Account to act in (default: your own)'
            cand --user 'Platform user to act as on an embedded platform (default: the local operator)'
            cand -q 'Print only data and errors'
            cand --quiet 'Print only data and errors'
            cand -v 'Say more about what is happening (repeat for more)'
            cand --verbose 'Say more about what is happening (repeat for more)'
            cand --no-input 'Never prompt; fail listing every missing value instead'
            cand -y 'Answer yes to confirmations'
            cand --yes 'Answer yes to confirmations'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'plat;server;help'= {
            cand migrate 'Create or upgrade the database schema, then exit'
            cand openapi 'Print the OpenAPI document the server serves at /api/v1/openapi.json'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'plat;server;help;migrate'= {
        }
        &'plat;server;help;openapi'= {
        }
        &'plat;server;help;help'= {
        }
        &'plat;completion'= {
            cand -o 'Output format: a table for people, JSON or YAML documents for programs'
            cand --output 'Output format: a table for people, JSON or YAML documents for programs'
            cand --context 'Context (platform connection) to use instead of the current one'
            cand --account 'Account to act in (default: your own)'
            cand --user 'Platform user to act as on an embedded platform (default: the local operator)'
            cand -q 'Print only data and errors'
            cand --quiet 'Print only data and errors'
            cand -v 'Say more about what is happening (repeat for more)'
            cand --verbose 'Say more about what is happening (repeat for more)'
            cand --no-input 'Never prompt; fail listing every missing value instead'
            cand -y 'Answer yes to confirmations'
            cand --yes 'Answer yes to confirmations'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'plat;help'= {
            cand account 'Manage accounts: your own and the sub-accounts below it'
            cand tenant 'Manage tenants: domains and branding under which accounts see the platform'
            cand user 'Link platform users to the current account, or revoke their access'
            cand group 'Manage groups, the only holders of permissions'
            cand trust 'Trust rules: let external tokens (GitHub Actions jobs) act with a group''s permissions'
            cand context 'Manage contexts: which platform plat talks to, and as whom'
            cand whoami 'Show who you are acting as, in which account, with which permissions'
            cand env 'Short-lived environments provisioned by Terraform/OpenTofu'
            cand policy 'Environment policies: lifetime limits, daily quota, monthly budget and templates that need approval'
            cand audit 'The audit trail: every write and every refusal, by whom, where and when'
            cand spend 'Spend of environments in this account and its sub-accounts, by account, tenant or label'
            cand automation 'Automations: define, run and follow the platform''s processes'
            cand scan 'Inventory and policy checks over manifests, Terraform state and live clusters'
            cand scaffold 'Create projects from Backstage Software Templates, offline, and keep them updatable'
            cand login 'Log in to a plat server with your identity provider (OIDC device flow)'
            cand logout 'Forget the login of the current context and revoke its refresh token'
            cand auth 'Inspect the current login'
            cand server 'Serve the platform to a team over HTTP (SQLite or PostgreSQL, OIDC bearer tokens)'
            cand completion 'Print a shell completion script'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'plat;help;account'= {
            cand list 'List the current account and every account below it'
            cand show 'Show one account'
            cand create 'Create a sub-account of the current account'
            cand update 'Change a sub-account''s name, tenant, owner or roles (your own account: its name only)'
            cand delete 'Delete a sub-account that has no sub-accounts of its own'
        }
        &'plat;help;account;list'= {
        }
        &'plat;help;account;show'= {
        }
        &'plat;help;account;create'= {
        }
        &'plat;help;account;update'= {
        }
        &'plat;help;account;delete'= {
        }
        &'plat;help;tenant'= {
            cand list 'List the tenants your account owns or is bound to'
            cand show 'Show one tenant'
            cand create 'Create a tenant for your sub-accounts'
            cand update 'Change a tenant''s domain or branding'
            cand delete 'Delete a tenant no account is bound to'
        }
        &'plat;help;tenant;list'= {
        }
        &'plat;help;tenant;show'= {
        }
        &'plat;help;tenant;create'= {
        }
        &'plat;help;tenant;update'= {
        }
        &'plat;help;tenant;delete'= {
        }
        &'plat;help;user'= {
            cand list 'List the users linked to the current account'
            cand show 'Show one linked user'
            cand create 'Link a user to the current account, creating the platform user if needed'
            cand update 'Change your own display name (users own themselves)'
            cand revoke 'Remove a user''s access to the current account; the user is kept'
        }
        &'plat;help;user;list'= {
        }
        &'plat;help;user;show'= {
        }
        &'plat;help;user;create'= {
        }
        &'plat;help;user;update'= {
        }
        &'plat;help;user;revoke'= {
        }
        &'plat;help;group'= {
            cand list 'List the current account''s groups'
            cand show 'Show one group with its permissions and members'
            cand create 'Create a group with permissions'
            cand update 'Add or remove permissions of a group'
            cand delete 'Delete a group (predefined groups stay)'
            cand add-member 'Add a linked user to a group'
            cand remove-member 'Remove a user from a group'
            cand link-idp 'Give the members of an identity-provider group this group''s permissions'
            cand unlink-idp 'Remove an identity-provider group''s link to this group'
            cand permissions 'List every permission a group can hold'
        }
        &'plat;help;group;list'= {
        }
        &'plat;help;group;show'= {
        }
        &'plat;help;group;create'= {
        }
        &'plat;help;group;update'= {
        }
        &'plat;help;group;delete'= {
        }
        &'plat;help;group;add-member'= {
        }
        &'plat;help;group;remove-member'= {
        }
        &'plat;help;group;link-idp'= {
        }
        &'plat;help;group;unlink-idp'= {
        }
        &'plat;help;group;permissions'= {
        }
        &'plat;help;trust'= {
            cand list 'List the account''s trust rules'
            cand add 'Let tokens of an external issuer (a GitHub Actions job) act with a group''s permissions'
            cand delete 'Delete a trust rule: its tokens are refused from the next request'
        }
        &'plat;help;trust;list'= {
        }
        &'plat;help;trust;add'= {
        }
        &'plat;help;trust;delete'= {
        }
        &'plat;help;context'= {
            cand list 'List contexts; the current one is marked'
            cand show 'Show a context (default: the current one)'
            cand use 'Make a context the current one'
            cand add 'Add or replace a context'
            cand delete 'Delete a context'
        }
        &'plat;help;context;list'= {
        }
        &'plat;help;context;show'= {
        }
        &'plat;help;context;use'= {
        }
        &'plat;help;context;add'= {
        }
        &'plat;help;context;delete'= {
        }
        &'plat;help;whoami'= {
        }
        &'plat;help;env'= {
            cand template 'Environment templates: built-in ones and those in PLAT_TEMPLATE_PATH'
            cand up 'Provision an environment from a template (Terraform/OpenTofu); it is destroyed when it expires'
            cand list 'List this account''s environments'
            cand show 'Show an environment: status, expiry, resources, outputs'
            cand logs 'Print the Terraform log of an environment''s last run'
            cand outputs 'Print an environment''s outputs (sensitive values redacted)'
            cand extend 'Push an environment''s expiry to now + DURATION (capped by the policy''s maximum lifetime)'
            cand down 'Destroy an environment; an environment already gone is not an error'
            cand quota 'How many environments you may still create today'
            cand reap 'Destroy every expired environment (for cron or a CI schedule)'
            cand approve 'Approve an environment of a protected template; its requester''s `env up` then provisions it'
            cand reject 'Reject an environment of a protected template; nothing is provisioned'
        }
        &'plat;help;env;template'= {
            cand list 'List the templates'
            cand show 'Show a template''s parameters and lifetime limits'
        }
        &'plat;help;env;template;list'= {
        }
        &'plat;help;env;template;show'= {
        }
        &'plat;help;env;up'= {
        }
        &'plat;help;env;list'= {
        }
        &'plat;help;env;show'= {
        }
        &'plat;help;env;logs'= {
        }
        &'plat;help;env;outputs'= {
        }
        &'plat;help;env;extend'= {
        }
        &'plat;help;env;down'= {
        }
        &'plat;help;env;quota'= {
        }
        &'plat;help;env;reap'= {
        }
        &'plat;help;env;approve'= {
        }
        &'plat;help;env;reject'= {
        }
        &'plat;help;policy'= {
            cand show 'Show the environment policy in force for the current account'
            cand set 'Tighten the environment policy of the current account, or of a tenant it owns'
        }
        &'plat;help;policy;show'= {
        }
        &'plat;help;policy;set'= {
        }
        &'plat;help;audit'= {
            cand list 'List who did what in this account and its sub-accounts, newest first (needs audit:read)'
        }
        &'plat;help;audit;list'= {
        }
        &'plat;help;spend'= {
        }
        &'plat;help;automation'= {
            cand apply 'Create or update an automation from a YAML definition (apiVersion: plat.dev/v1, kind: Automation)'
            cand list 'List this account''s automations'
            cand show 'Show an automation: trigger, parameters, steps'
            cand delete 'Delete an automation (its runs stay on record)'
            cand run 'Run an automation now and follow it; exits 0 when it succeeds, 1 when it fails'
            cand runs 'List runs, newest first'
            cand logs 'Print the log of a run'
            cand cancel 'Stop a run: its running step is killed'
        }
        &'plat;help;automation;apply'= {
        }
        &'plat;help;automation;list'= {
        }
        &'plat;help;automation;show'= {
        }
        &'plat;help;automation;delete'= {
        }
        &'plat;help;automation;run'= {
        }
        &'plat;help;automation;runs'= {
        }
        &'plat;help;automation;logs'= {
        }
        &'plat;help;automation;cancel'= {
        }
        &'plat;help;scan'= {
            cand rules 'List the rule catalogue: id, name, default severity, target and how to fix, then the rules of the Rego policies (--policy DIR, else .plat/policies/)'
            cand list 'List the inventories this account has published with --publish'
            cand show 'Show a published inventory: summary and findings, or its Backstage entities'
        }
        &'plat;help;scan;rules'= {
        }
        &'plat;help;scan;list'= {
        }
        &'plat;help;scan;show'= {
        }
        &'plat;help;scaffold'= {
            cand list 'List the templates: built-in ones and those in PLAT_TEMPLATE_PATH'
            cand show 'Show a template''s parameters: title, type, required, default and choices'
            cand run 'Create a project from a template, offline; publish it with git when the template says so'
            cand update 'Bring a generated project up to date with its template (three-way merge; exit 3 on conflicts)'
        }
        &'plat;help;scaffold;list'= {
        }
        &'plat;help;scaffold;show'= {
        }
        &'plat;help;scaffold;run'= {
        }
        &'plat;help;scaffold;update'= {
        }
        &'plat;help;login'= {
        }
        &'plat;help;logout'= {
        }
        &'plat;help;auth'= {
            cand status 'Show whether you are logged in to the current context, as whom, until when'
            cand token 'Print a valid access token (refreshed if needed) for use in scripts'
        }
        &'plat;help;auth;status'= {
        }
        &'plat;help;auth;token'= {
        }
        &'plat;help;server'= {
            cand migrate 'Create or upgrade the database schema, then exit'
            cand openapi 'Print the OpenAPI document the server serves at /api/v1/openapi.json'
        }
        &'plat;help;server;migrate'= {
        }
        &'plat;help;server;openapi'= {
        }
        &'plat;help;completion'= {
        }
        &'plat;help;help'= {
        }
    ]
    $completions[$command]
}
