
using namespace System.Management.Automation
using namespace System.Management.Automation.Language

Register-ArgumentCompleter -Native -CommandName 'plat' -ScriptBlock {
    param($wordToComplete, $commandAst, $cursorPosition)

    $commandElements = $commandAst.CommandElements
    $command = @(
        'plat'
        for ($i = 1; $i -lt $commandElements.Count; $i++) {
            $element = $commandElements[$i]
            if ($element -isnot [StringConstantExpressionAst] -or
                $element.StringConstantType -ne [StringConstantType]::BareWord -or
                $element.Value.StartsWith('-') -or
                $element.Value -eq $wordToComplete) {
                break
        }
        $element.Value
    }) -join ';'

    $completions = @(switch ($command) {
        'plat' {
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format: a table for people, JSON or YAML documents for programs')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format: a table for people, JSON or YAML documents for programs')
            [CompletionResult]::new('--context', '--context', [CompletionResultType]::ParameterName, 'Context (platform connection) to use instead of the current one')
            [CompletionResult]::new('--account', '--account', [CompletionResultType]::ParameterName, 'Account to act in (default: your own)')
            [CompletionResult]::new('--user', '--user', [CompletionResultType]::ParameterName, 'Platform user to act as on an embedded platform (default: the local operator)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print only data and errors')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print only data and errors')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Say more about what is happening (repeat for more)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Say more about what is happening (repeat for more)')
            [CompletionResult]::new('--no-input', '--no-input', [CompletionResultType]::ParameterName, 'Never prompt; fail listing every missing value instead')
            [CompletionResult]::new('-y', '-y', [CompletionResultType]::ParameterName, 'Answer yes to confirmations')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Answer yes to confirmations')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('account', 'account', [CompletionResultType]::ParameterValue, 'Manage accounts: your own and the sub-accounts below it')
            [CompletionResult]::new('tenant', 'tenant', [CompletionResultType]::ParameterValue, 'Manage tenants: domains and branding under which accounts see the platform')
            [CompletionResult]::new('user', 'user', [CompletionResultType]::ParameterValue, 'Link platform users to the current account, or revoke their access')
            [CompletionResult]::new('group', 'group', [CompletionResultType]::ParameterValue, 'Manage groups, the only holders of permissions')
            [CompletionResult]::new('trust', 'trust', [CompletionResultType]::ParameterValue, 'Trust rules: let external tokens (GitHub Actions jobs) act with a group''s permissions')
            [CompletionResult]::new('context', 'context', [CompletionResultType]::ParameterValue, 'Manage contexts: which platform plat talks to, and as whom')
            [CompletionResult]::new('whoami', 'whoami', [CompletionResultType]::ParameterValue, 'Show who you are acting as, in which account, with which permissions')
            [CompletionResult]::new('env', 'env', [CompletionResultType]::ParameterValue, 'Short-lived environments provisioned by Terraform/OpenTofu')
            [CompletionResult]::new('policy', 'policy', [CompletionResultType]::ParameterValue, 'Environment policies: lifetime limits, daily quota, monthly budget and templates that need approval')
            [CompletionResult]::new('audit', 'audit', [CompletionResultType]::ParameterValue, 'The audit trail: every write and every refusal, by whom, where and when')
            [CompletionResult]::new('spend', 'spend', [CompletionResultType]::ParameterValue, 'Spend of environments in this account and its sub-accounts, by account, tenant or label')
            [CompletionResult]::new('automation', 'automation', [CompletionResultType]::ParameterValue, 'Automations: define, run and follow the platform''s processes')
            [CompletionResult]::new('scan', 'scan', [CompletionResultType]::ParameterValue, 'Inventory and policy checks over manifests, Terraform state and live clusters')
            [CompletionResult]::new('scaffold', 'scaffold', [CompletionResultType]::ParameterValue, 'Create projects from Backstage Software Templates, offline, and keep them updatable')
            [CompletionResult]::new('login', 'login', [CompletionResultType]::ParameterValue, 'Log in to a plat server with your identity provider (OIDC device flow)')
            [CompletionResult]::new('logout', 'logout', [CompletionResultType]::ParameterValue, 'Forget the login of the current context and revoke its refresh token')
            [CompletionResult]::new('auth', 'auth', [CompletionResultType]::ParameterValue, 'Inspect the current login')
            [CompletionResult]::new('server', 'server', [CompletionResultType]::ParameterValue, 'Serve the platform to a team over HTTP (SQLite or PostgreSQL, OIDC bearer tokens)')
            [CompletionResult]::new('completion', 'completion', [CompletionResultType]::ParameterValue, 'Print a shell completion script')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'plat;account' {
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format: a table for people, JSON or YAML documents for programs')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format: a table for people, JSON or YAML documents for programs')
            [CompletionResult]::new('--context', '--context', [CompletionResultType]::ParameterName, 'Context (platform connection) to use instead of the current one')
            [CompletionResult]::new('--account', '--account', [CompletionResultType]::ParameterName, 'Account to act in (default: your own)')
            [CompletionResult]::new('--user', '--user', [CompletionResultType]::ParameterName, 'Platform user to act as on an embedded platform (default: the local operator)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print only data and errors')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print only data and errors')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Say more about what is happening (repeat for more)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Say more about what is happening (repeat for more)')
            [CompletionResult]::new('--no-input', '--no-input', [CompletionResultType]::ParameterName, 'Never prompt; fail listing every missing value instead')
            [CompletionResult]::new('-y', '-y', [CompletionResultType]::ParameterName, 'Answer yes to confirmations')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Answer yes to confirmations')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('list', 'list', [CompletionResultType]::ParameterValue, 'List the current account and every account below it')
            [CompletionResult]::new('ls', 'ls', [CompletionResultType]::ParameterValue, 'List the current account and every account below it')
            [CompletionResult]::new('show', 'show', [CompletionResultType]::ParameterValue, 'Show one account')
            [CompletionResult]::new('create', 'create', [CompletionResultType]::ParameterValue, 'Create a sub-account of the current account')
            [CompletionResult]::new('update', 'update', [CompletionResultType]::ParameterValue, 'Change a sub-account''s name, tenant, owner or roles (your own account: its name only)')
            [CompletionResult]::new('delete', 'delete', [CompletionResultType]::ParameterValue, 'Delete a sub-account that has no sub-accounts of its own')
            [CompletionResult]::new('rm', 'rm', [CompletionResultType]::ParameterValue, 'Delete a sub-account that has no sub-accounts of its own')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'plat;account;list' {
            [CompletionResult]::new('--limit', '--limit', [CompletionResultType]::ParameterName, 'Show at most this many accounts')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format: a table for people, JSON or YAML documents for programs')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format: a table for people, JSON or YAML documents for programs')
            [CompletionResult]::new('--context', '--context', [CompletionResultType]::ParameterName, 'Context (platform connection) to use instead of the current one')
            [CompletionResult]::new('--account', '--account', [CompletionResultType]::ParameterName, 'Account to act in (default: your own)')
            [CompletionResult]::new('--user', '--user', [CompletionResultType]::ParameterName, 'Platform user to act as on an embedded platform (default: the local operator)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print only data and errors')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print only data and errors')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Say more about what is happening (repeat for more)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Say more about what is happening (repeat for more)')
            [CompletionResult]::new('--no-input', '--no-input', [CompletionResultType]::ParameterName, 'Never prompt; fail listing every missing value instead')
            [CompletionResult]::new('-y', '-y', [CompletionResultType]::ParameterName, 'Answer yes to confirmations')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Answer yes to confirmations')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'plat;account;ls' {
            [CompletionResult]::new('--limit', '--limit', [CompletionResultType]::ParameterName, 'Show at most this many accounts')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format: a table for people, JSON or YAML documents for programs')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format: a table for people, JSON or YAML documents for programs')
            [CompletionResult]::new('--context', '--context', [CompletionResultType]::ParameterName, 'Context (platform connection) to use instead of the current one')
            [CompletionResult]::new('--account', '--account', [CompletionResultType]::ParameterName, 'Account to act in (default: your own)')
            [CompletionResult]::new('--user', '--user', [CompletionResultType]::ParameterName, 'Platform user to act as on an embedded platform (default: the local operator)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print only data and errors')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print only data and errors')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Say more about what is happening (repeat for more)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Say more about what is happening (repeat for more)')
            [CompletionResult]::new('--no-input', '--no-input', [CompletionResultType]::ParameterName, 'Never prompt; fail listing every missing value instead')
            [CompletionResult]::new('-y', '-y', [CompletionResultType]::ParameterName, 'Answer yes to confirmations')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Answer yes to confirmations')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'plat;account;show' {
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format: a table for people, JSON or YAML documents for programs')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format: a table for people, JSON or YAML documents for programs')
            [CompletionResult]::new('--context', '--context', [CompletionResultType]::ParameterName, 'Context (platform connection) to use instead of the current one')
            [CompletionResult]::new('--account', '--account', [CompletionResultType]::ParameterName, 'Account to act in (default: your own)')
            [CompletionResult]::new('--user', '--user', [CompletionResultType]::ParameterName, 'Platform user to act as on an embedded platform (default: the local operator)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print only data and errors')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print only data and errors')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Say more about what is happening (repeat for more)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Say more about what is happening (repeat for more)')
            [CompletionResult]::new('--no-input', '--no-input', [CompletionResultType]::ParameterName, 'Never prompt; fail listing every missing value instead')
            [CompletionResult]::new('-y', '-y', [CompletionResultType]::ParameterName, 'Answer yes to confirmations')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Answer yes to confirmations')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'plat;account;create' {
            [CompletionResult]::new('--owner', '--owner', [CompletionResultType]::ParameterName, 'E-mail of the owner user (created if it does not exist yet)')
            [CompletionResult]::new('--name', '--name', [CompletionResultType]::ParameterName, 'Display name (default: the slug)')
            [CompletionResult]::new('--tenant', '--tenant', [CompletionResultType]::ParameterName, 'Tenant to bind the account to (default: the current account''s tenant)')
            [CompletionResult]::new('--role', '--role', [CompletionResultType]::ParameterName, 'Role to grant the new account (repeatable)')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format: a table for people, JSON or YAML documents for programs')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format: a table for people, JSON or YAML documents for programs')
            [CompletionResult]::new('--context', '--context', [CompletionResultType]::ParameterName, 'Context (platform connection) to use instead of the current one')
            [CompletionResult]::new('--account', '--account', [CompletionResultType]::ParameterName, 'Account to act in (default: your own)')
            [CompletionResult]::new('--user', '--user', [CompletionResultType]::ParameterName, 'Platform user to act as on an embedded platform (default: the local operator)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print only data and errors')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print only data and errors')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Say more about what is happening (repeat for more)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Say more about what is happening (repeat for more)')
            [CompletionResult]::new('--no-input', '--no-input', [CompletionResultType]::ParameterName, 'Never prompt; fail listing every missing value instead')
            [CompletionResult]::new('-y', '-y', [CompletionResultType]::ParameterName, 'Answer yes to confirmations')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Answer yes to confirmations')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'plat;account;update' {
            [CompletionResult]::new('--name', '--name', [CompletionResultType]::ParameterName, 'New display name')
            [CompletionResult]::new('--tenant', '--tenant', [CompletionResultType]::ParameterName, 'Move the account to another tenant (parent accounts only)')
            [CompletionResult]::new('--owner', '--owner', [CompletionResultType]::ParameterName, 'Give the account another owner (parent accounts only)')
            [CompletionResult]::new('--add-role', '--add-role', [CompletionResultType]::ParameterName, 'Grant a role (repeatable)')
            [CompletionResult]::new('--remove-role', '--remove-role', [CompletionResultType]::ParameterName, 'Withdraw a role (repeatable)')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format: a table for people, JSON or YAML documents for programs')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format: a table for people, JSON or YAML documents for programs')
            [CompletionResult]::new('--context', '--context', [CompletionResultType]::ParameterName, 'Context (platform connection) to use instead of the current one')
            [CompletionResult]::new('--account', '--account', [CompletionResultType]::ParameterName, 'Account to act in (default: your own)')
            [CompletionResult]::new('--user', '--user', [CompletionResultType]::ParameterName, 'Platform user to act as on an embedded platform (default: the local operator)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print only data and errors')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print only data and errors')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Say more about what is happening (repeat for more)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Say more about what is happening (repeat for more)')
            [CompletionResult]::new('--no-input', '--no-input', [CompletionResultType]::ParameterName, 'Never prompt; fail listing every missing value instead')
            [CompletionResult]::new('-y', '-y', [CompletionResultType]::ParameterName, 'Answer yes to confirmations')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Answer yes to confirmations')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'plat;account;delete' {
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format: a table for people, JSON or YAML documents for programs')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format: a table for people, JSON or YAML documents for programs')
            [CompletionResult]::new('--context', '--context', [CompletionResultType]::ParameterName, 'Context (platform connection) to use instead of the current one')
            [CompletionResult]::new('--account', '--account', [CompletionResultType]::ParameterName, 'Account to act in (default: your own)')
            [CompletionResult]::new('--user', '--user', [CompletionResultType]::ParameterName, 'Platform user to act as on an embedded platform (default: the local operator)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print only data and errors')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print only data and errors')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Say more about what is happening (repeat for more)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Say more about what is happening (repeat for more)')
            [CompletionResult]::new('--no-input', '--no-input', [CompletionResultType]::ParameterName, 'Never prompt; fail listing every missing value instead')
            [CompletionResult]::new('-y', '-y', [CompletionResultType]::ParameterName, 'Answer yes to confirmations')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Answer yes to confirmations')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'plat;account;rm' {
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format: a table for people, JSON or YAML documents for programs')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format: a table for people, JSON or YAML documents for programs')
            [CompletionResult]::new('--context', '--context', [CompletionResultType]::ParameterName, 'Context (platform connection) to use instead of the current one')
            [CompletionResult]::new('--account', '--account', [CompletionResultType]::ParameterName, 'Account to act in (default: your own)')
            [CompletionResult]::new('--user', '--user', [CompletionResultType]::ParameterName, 'Platform user to act as on an embedded platform (default: the local operator)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print only data and errors')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print only data and errors')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Say more about what is happening (repeat for more)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Say more about what is happening (repeat for more)')
            [CompletionResult]::new('--no-input', '--no-input', [CompletionResultType]::ParameterName, 'Never prompt; fail listing every missing value instead')
            [CompletionResult]::new('-y', '-y', [CompletionResultType]::ParameterName, 'Answer yes to confirmations')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Answer yes to confirmations')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'plat;account;help' {
            [CompletionResult]::new('list', 'list', [CompletionResultType]::ParameterValue, 'List the current account and every account below it')
            [CompletionResult]::new('show', 'show', [CompletionResultType]::ParameterValue, 'Show one account')
            [CompletionResult]::new('create', 'create', [CompletionResultType]::ParameterValue, 'Create a sub-account of the current account')
            [CompletionResult]::new('update', 'update', [CompletionResultType]::ParameterValue, 'Change a sub-account''s name, tenant, owner or roles (your own account: its name only)')
            [CompletionResult]::new('delete', 'delete', [CompletionResultType]::ParameterValue, 'Delete a sub-account that has no sub-accounts of its own')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'plat;account;help;list' {
            break
        }
        'plat;account;help;show' {
            break
        }
        'plat;account;help;create' {
            break
        }
        'plat;account;help;update' {
            break
        }
        'plat;account;help;delete' {
            break
        }
        'plat;account;help;help' {
            break
        }
        'plat;tenant' {
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format: a table for people, JSON or YAML documents for programs')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format: a table for people, JSON or YAML documents for programs')
            [CompletionResult]::new('--context', '--context', [CompletionResultType]::ParameterName, 'Context (platform connection) to use instead of the current one')
            [CompletionResult]::new('--account', '--account', [CompletionResultType]::ParameterName, 'Account to act in (default: your own)')
            [CompletionResult]::new('--user', '--user', [CompletionResultType]::ParameterName, 'Platform user to act as on an embedded platform (default: the local operator)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print only data and errors')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print only data and errors')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Say more about what is happening (repeat for more)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Say more about what is happening (repeat for more)')
            [CompletionResult]::new('--no-input', '--no-input', [CompletionResultType]::ParameterName, 'Never prompt; fail listing every missing value instead')
            [CompletionResult]::new('-y', '-y', [CompletionResultType]::ParameterName, 'Answer yes to confirmations')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Answer yes to confirmations')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('list', 'list', [CompletionResultType]::ParameterValue, 'List the tenants your account owns or is bound to')
            [CompletionResult]::new('ls', 'ls', [CompletionResultType]::ParameterValue, 'List the tenants your account owns or is bound to')
            [CompletionResult]::new('show', 'show', [CompletionResultType]::ParameterValue, 'Show one tenant')
            [CompletionResult]::new('create', 'create', [CompletionResultType]::ParameterValue, 'Create a tenant for your sub-accounts')
            [CompletionResult]::new('update', 'update', [CompletionResultType]::ParameterValue, 'Change a tenant''s domain or branding')
            [CompletionResult]::new('delete', 'delete', [CompletionResultType]::ParameterValue, 'Delete a tenant no account is bound to')
            [CompletionResult]::new('rm', 'rm', [CompletionResultType]::ParameterValue, 'Delete a tenant no account is bound to')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'plat;tenant;list' {
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format: a table for people, JSON or YAML documents for programs')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format: a table for people, JSON or YAML documents for programs')
            [CompletionResult]::new('--context', '--context', [CompletionResultType]::ParameterName, 'Context (platform connection) to use instead of the current one')
            [CompletionResult]::new('--account', '--account', [CompletionResultType]::ParameterName, 'Account to act in (default: your own)')
            [CompletionResult]::new('--user', '--user', [CompletionResultType]::ParameterName, 'Platform user to act as on an embedded platform (default: the local operator)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print only data and errors')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print only data and errors')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Say more about what is happening (repeat for more)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Say more about what is happening (repeat for more)')
            [CompletionResult]::new('--no-input', '--no-input', [CompletionResultType]::ParameterName, 'Never prompt; fail listing every missing value instead')
            [CompletionResult]::new('-y', '-y', [CompletionResultType]::ParameterName, 'Answer yes to confirmations')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Answer yes to confirmations')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'plat;tenant;ls' {
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format: a table for people, JSON or YAML documents for programs')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format: a table for people, JSON or YAML documents for programs')
            [CompletionResult]::new('--context', '--context', [CompletionResultType]::ParameterName, 'Context (platform connection) to use instead of the current one')
            [CompletionResult]::new('--account', '--account', [CompletionResultType]::ParameterName, 'Account to act in (default: your own)')
            [CompletionResult]::new('--user', '--user', [CompletionResultType]::ParameterName, 'Platform user to act as on an embedded platform (default: the local operator)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print only data and errors')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print only data and errors')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Say more about what is happening (repeat for more)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Say more about what is happening (repeat for more)')
            [CompletionResult]::new('--no-input', '--no-input', [CompletionResultType]::ParameterName, 'Never prompt; fail listing every missing value instead')
            [CompletionResult]::new('-y', '-y', [CompletionResultType]::ParameterName, 'Answer yes to confirmations')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Answer yes to confirmations')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'plat;tenant;show' {
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format: a table for people, JSON or YAML documents for programs')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format: a table for people, JSON or YAML documents for programs')
            [CompletionResult]::new('--context', '--context', [CompletionResultType]::ParameterName, 'Context (platform connection) to use instead of the current one')
            [CompletionResult]::new('--account', '--account', [CompletionResultType]::ParameterName, 'Account to act in (default: your own)')
            [CompletionResult]::new('--user', '--user', [CompletionResultType]::ParameterName, 'Platform user to act as on an embedded platform (default: the local operator)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print only data and errors')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print only data and errors')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Say more about what is happening (repeat for more)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Say more about what is happening (repeat for more)')
            [CompletionResult]::new('--no-input', '--no-input', [CompletionResultType]::ParameterName, 'Never prompt; fail listing every missing value instead')
            [CompletionResult]::new('-y', '-y', [CompletionResultType]::ParameterName, 'Answer yes to confirmations')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Answer yes to confirmations')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'plat;tenant;create' {
            [CompletionResult]::new('--domain', '--domain', [CompletionResultType]::ParameterName, 'Domain that resolves to this tenant')
            [CompletionResult]::new('--owner-account', '--owner-account', [CompletionResultType]::ParameterName, 'Account that owns the tenant: yours (default) or one of your sub-accounts')
            [CompletionResult]::new('--logo', '--logo', [CompletionResultType]::ParameterName, 'Logo URL')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'Primary colour, e.g. ''#0a7''')
            [CompletionResult]::new('--secondary-color', '--secondary-color', [CompletionResultType]::ParameterName, 'Secondary colour')
            [CompletionResult]::new('--description', '--description', [CompletionResultType]::ParameterName, 'Description shown by the portal')
            [CompletionResult]::new('--layout', '--layout', [CompletionResultType]::ParameterName, 'Layout option (repeatable)')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format: a table for people, JSON or YAML documents for programs')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format: a table for people, JSON or YAML documents for programs')
            [CompletionResult]::new('--context', '--context', [CompletionResultType]::ParameterName, 'Context (platform connection) to use instead of the current one')
            [CompletionResult]::new('--account', '--account', [CompletionResultType]::ParameterName, 'Account to act in (default: your own)')
            [CompletionResult]::new('--user', '--user', [CompletionResultType]::ParameterName, 'Platform user to act as on an embedded platform (default: the local operator)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print only data and errors')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print only data and errors')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Say more about what is happening (repeat for more)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Say more about what is happening (repeat for more)')
            [CompletionResult]::new('--no-input', '--no-input', [CompletionResultType]::ParameterName, 'Never prompt; fail listing every missing value instead')
            [CompletionResult]::new('-y', '-y', [CompletionResultType]::ParameterName, 'Answer yes to confirmations')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Answer yes to confirmations')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'plat;tenant;update' {
            [CompletionResult]::new('--domain', '--domain', [CompletionResultType]::ParameterName, 'New domain (owner account only)')
            [CompletionResult]::new('--logo', '--logo', [CompletionResultType]::ParameterName, 'Logo URL')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'Primary colour, e.g. ''#0a7''')
            [CompletionResult]::new('--secondary-color', '--secondary-color', [CompletionResultType]::ParameterName, 'Secondary colour')
            [CompletionResult]::new('--description', '--description', [CompletionResultType]::ParameterName, 'Description shown by the portal')
            [CompletionResult]::new('--layout', '--layout', [CompletionResultType]::ParameterName, 'Layout option (repeatable)')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format: a table for people, JSON or YAML documents for programs')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format: a table for people, JSON or YAML documents for programs')
            [CompletionResult]::new('--context', '--context', [CompletionResultType]::ParameterName, 'Context (platform connection) to use instead of the current one')
            [CompletionResult]::new('--account', '--account', [CompletionResultType]::ParameterName, 'Account to act in (default: your own)')
            [CompletionResult]::new('--user', '--user', [CompletionResultType]::ParameterName, 'Platform user to act as on an embedded platform (default: the local operator)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print only data and errors')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print only data and errors')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Say more about what is happening (repeat for more)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Say more about what is happening (repeat for more)')
            [CompletionResult]::new('--no-input', '--no-input', [CompletionResultType]::ParameterName, 'Never prompt; fail listing every missing value instead')
            [CompletionResult]::new('-y', '-y', [CompletionResultType]::ParameterName, 'Answer yes to confirmations')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Answer yes to confirmations')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'plat;tenant;delete' {
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format: a table for people, JSON or YAML documents for programs')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format: a table for people, JSON or YAML documents for programs')
            [CompletionResult]::new('--context', '--context', [CompletionResultType]::ParameterName, 'Context (platform connection) to use instead of the current one')
            [CompletionResult]::new('--account', '--account', [CompletionResultType]::ParameterName, 'Account to act in (default: your own)')
            [CompletionResult]::new('--user', '--user', [CompletionResultType]::ParameterName, 'Platform user to act as on an embedded platform (default: the local operator)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print only data and errors')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print only data and errors')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Say more about what is happening (repeat for more)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Say more about what is happening (repeat for more)')
            [CompletionResult]::new('--no-input', '--no-input', [CompletionResultType]::ParameterName, 'Never prompt; fail listing every missing value instead')
            [CompletionResult]::new('-y', '-y', [CompletionResultType]::ParameterName, 'Answer yes to confirmations')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Answer yes to confirmations')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'plat;tenant;rm' {
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format: a table for people, JSON or YAML documents for programs')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format: a table for people, JSON or YAML documents for programs')
            [CompletionResult]::new('--context', '--context', [CompletionResultType]::ParameterName, 'Context (platform connection) to use instead of the current one')
            [CompletionResult]::new('--account', '--account', [CompletionResultType]::ParameterName, 'Account to act in (default: your own)')
            [CompletionResult]::new('--user', '--user', [CompletionResultType]::ParameterName, 'Platform user to act as on an embedded platform (default: the local operator)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print only data and errors')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print only data and errors')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Say more about what is happening (repeat for more)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Say more about what is happening (repeat for more)')
            [CompletionResult]::new('--no-input', '--no-input', [CompletionResultType]::ParameterName, 'Never prompt; fail listing every missing value instead')
            [CompletionResult]::new('-y', '-y', [CompletionResultType]::ParameterName, 'Answer yes to confirmations')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Answer yes to confirmations')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'plat;tenant;help' {
            [CompletionResult]::new('list', 'list', [CompletionResultType]::ParameterValue, 'List the tenants your account owns or is bound to')
            [CompletionResult]::new('show', 'show', [CompletionResultType]::ParameterValue, 'Show one tenant')
            [CompletionResult]::new('create', 'create', [CompletionResultType]::ParameterValue, 'Create a tenant for your sub-accounts')
            [CompletionResult]::new('update', 'update', [CompletionResultType]::ParameterValue, 'Change a tenant''s domain or branding')
            [CompletionResult]::new('delete', 'delete', [CompletionResultType]::ParameterValue, 'Delete a tenant no account is bound to')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'plat;tenant;help;list' {
            break
        }
        'plat;tenant;help;show' {
            break
        }
        'plat;tenant;help;create' {
            break
        }
        'plat;tenant;help;update' {
            break
        }
        'plat;tenant;help;delete' {
            break
        }
        'plat;tenant;help;help' {
            break
        }
        'plat;user' {
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format: a table for people, JSON or YAML documents for programs')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format: a table for people, JSON or YAML documents for programs')
            [CompletionResult]::new('--context', '--context', [CompletionResultType]::ParameterName, 'Context (platform connection) to use instead of the current one')
            [CompletionResult]::new('--account', '--account', [CompletionResultType]::ParameterName, 'Account to act in (default: your own)')
            [CompletionResult]::new('--user', '--user', [CompletionResultType]::ParameterName, 'Platform user to act as on an embedded platform (default: the local operator)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print only data and errors')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print only data and errors')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Say more about what is happening (repeat for more)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Say more about what is happening (repeat for more)')
            [CompletionResult]::new('--no-input', '--no-input', [CompletionResultType]::ParameterName, 'Never prompt; fail listing every missing value instead')
            [CompletionResult]::new('-y', '-y', [CompletionResultType]::ParameterName, 'Answer yes to confirmations')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Answer yes to confirmations')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('list', 'list', [CompletionResultType]::ParameterValue, 'List the users linked to the current account')
            [CompletionResult]::new('ls', 'ls', [CompletionResultType]::ParameterValue, 'List the users linked to the current account')
            [CompletionResult]::new('show', 'show', [CompletionResultType]::ParameterValue, 'Show one linked user')
            [CompletionResult]::new('create', 'create', [CompletionResultType]::ParameterValue, 'Link a user to the current account, creating the platform user if needed')
            [CompletionResult]::new('update', 'update', [CompletionResultType]::ParameterValue, 'Change your own display name (users own themselves)')
            [CompletionResult]::new('revoke', 'revoke', [CompletionResultType]::ParameterValue, 'Remove a user''s access to the current account; the user is kept')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'plat;user;list' {
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format: a table for people, JSON or YAML documents for programs')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format: a table for people, JSON or YAML documents for programs')
            [CompletionResult]::new('--context', '--context', [CompletionResultType]::ParameterName, 'Context (platform connection) to use instead of the current one')
            [CompletionResult]::new('--account', '--account', [CompletionResultType]::ParameterName, 'Account to act in (default: your own)')
            [CompletionResult]::new('--user', '--user', [CompletionResultType]::ParameterName, 'Platform user to act as on an embedded platform (default: the local operator)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print only data and errors')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print only data and errors')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Say more about what is happening (repeat for more)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Say more about what is happening (repeat for more)')
            [CompletionResult]::new('--no-input', '--no-input', [CompletionResultType]::ParameterName, 'Never prompt; fail listing every missing value instead')
            [CompletionResult]::new('-y', '-y', [CompletionResultType]::ParameterName, 'Answer yes to confirmations')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Answer yes to confirmations')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'plat;user;ls' {
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format: a table for people, JSON or YAML documents for programs')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format: a table for people, JSON or YAML documents for programs')
            [CompletionResult]::new('--context', '--context', [CompletionResultType]::ParameterName, 'Context (platform connection) to use instead of the current one')
            [CompletionResult]::new('--account', '--account', [CompletionResultType]::ParameterName, 'Account to act in (default: your own)')
            [CompletionResult]::new('--user', '--user', [CompletionResultType]::ParameterName, 'Platform user to act as on an embedded platform (default: the local operator)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print only data and errors')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print only data and errors')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Say more about what is happening (repeat for more)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Say more about what is happening (repeat for more)')
            [CompletionResult]::new('--no-input', '--no-input', [CompletionResultType]::ParameterName, 'Never prompt; fail listing every missing value instead')
            [CompletionResult]::new('-y', '-y', [CompletionResultType]::ParameterName, 'Answer yes to confirmations')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Answer yes to confirmations')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'plat;user;show' {
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format: a table for people, JSON or YAML documents for programs')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format: a table for people, JSON or YAML documents for programs')
            [CompletionResult]::new('--context', '--context', [CompletionResultType]::ParameterName, 'Context (platform connection) to use instead of the current one')
            [CompletionResult]::new('--account', '--account', [CompletionResultType]::ParameterName, 'Account to act in (default: your own)')
            [CompletionResult]::new('--user', '--user', [CompletionResultType]::ParameterName, 'Platform user to act as on an embedded platform (default: the local operator)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print only data and errors')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print only data and errors')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Say more about what is happening (repeat for more)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Say more about what is happening (repeat for more)')
            [CompletionResult]::new('--no-input', '--no-input', [CompletionResultType]::ParameterName, 'Never prompt; fail listing every missing value instead')
            [CompletionResult]::new('-y', '-y', [CompletionResultType]::ParameterName, 'Answer yes to confirmations')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Answer yes to confirmations')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'plat;user;create' {
            [CompletionResult]::new('--name', '--name', [CompletionResultType]::ParameterName, 'Display name')
            [CompletionResult]::new('--group', '--group', [CompletionResultType]::ParameterName, 'Group to add the user to (repeatable)')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format: a table for people, JSON or YAML documents for programs')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format: a table for people, JSON or YAML documents for programs')
            [CompletionResult]::new('--context', '--context', [CompletionResultType]::ParameterName, 'Context (platform connection) to use instead of the current one')
            [CompletionResult]::new('--account', '--account', [CompletionResultType]::ParameterName, 'Account to act in (default: your own)')
            [CompletionResult]::new('--user', '--user', [CompletionResultType]::ParameterName, 'Platform user to act as on an embedded platform (default: the local operator)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print only data and errors')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print only data and errors')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Say more about what is happening (repeat for more)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Say more about what is happening (repeat for more)')
            [CompletionResult]::new('--no-input', '--no-input', [CompletionResultType]::ParameterName, 'Never prompt; fail listing every missing value instead')
            [CompletionResult]::new('-y', '-y', [CompletionResultType]::ParameterName, 'Answer yes to confirmations')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Answer yes to confirmations')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'plat;user;update' {
            [CompletionResult]::new('--name', '--name', [CompletionResultType]::ParameterName, 'New display name')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format: a table for people, JSON or YAML documents for programs')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format: a table for people, JSON or YAML documents for programs')
            [CompletionResult]::new('--context', '--context', [CompletionResultType]::ParameterName, 'Context (platform connection) to use instead of the current one')
            [CompletionResult]::new('--account', '--account', [CompletionResultType]::ParameterName, 'Account to act in (default: your own)')
            [CompletionResult]::new('--user', '--user', [CompletionResultType]::ParameterName, 'Platform user to act as on an embedded platform (default: the local operator)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print only data and errors')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print only data and errors')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Say more about what is happening (repeat for more)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Say more about what is happening (repeat for more)')
            [CompletionResult]::new('--no-input', '--no-input', [CompletionResultType]::ParameterName, 'Never prompt; fail listing every missing value instead')
            [CompletionResult]::new('-y', '-y', [CompletionResultType]::ParameterName, 'Answer yes to confirmations')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Answer yes to confirmations')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'plat;user;revoke' {
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format: a table for people, JSON or YAML documents for programs')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format: a table for people, JSON or YAML documents for programs')
            [CompletionResult]::new('--context', '--context', [CompletionResultType]::ParameterName, 'Context (platform connection) to use instead of the current one')
            [CompletionResult]::new('--account', '--account', [CompletionResultType]::ParameterName, 'Account to act in (default: your own)')
            [CompletionResult]::new('--user', '--user', [CompletionResultType]::ParameterName, 'Platform user to act as on an embedded platform (default: the local operator)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print only data and errors')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print only data and errors')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Say more about what is happening (repeat for more)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Say more about what is happening (repeat for more)')
            [CompletionResult]::new('--no-input', '--no-input', [CompletionResultType]::ParameterName, 'Never prompt; fail listing every missing value instead')
            [CompletionResult]::new('-y', '-y', [CompletionResultType]::ParameterName, 'Answer yes to confirmations')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Answer yes to confirmations')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'plat;user;help' {
            [CompletionResult]::new('list', 'list', [CompletionResultType]::ParameterValue, 'List the users linked to the current account')
            [CompletionResult]::new('show', 'show', [CompletionResultType]::ParameterValue, 'Show one linked user')
            [CompletionResult]::new('create', 'create', [CompletionResultType]::ParameterValue, 'Link a user to the current account, creating the platform user if needed')
            [CompletionResult]::new('update', 'update', [CompletionResultType]::ParameterValue, 'Change your own display name (users own themselves)')
            [CompletionResult]::new('revoke', 'revoke', [CompletionResultType]::ParameterValue, 'Remove a user''s access to the current account; the user is kept')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'plat;user;help;list' {
            break
        }
        'plat;user;help;show' {
            break
        }
        'plat;user;help;create' {
            break
        }
        'plat;user;help;update' {
            break
        }
        'plat;user;help;revoke' {
            break
        }
        'plat;user;help;help' {
            break
        }
        'plat;group' {
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format: a table for people, JSON or YAML documents for programs')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format: a table for people, JSON or YAML documents for programs')
            [CompletionResult]::new('--context', '--context', [CompletionResultType]::ParameterName, 'Context (platform connection) to use instead of the current one')
            [CompletionResult]::new('--account', '--account', [CompletionResultType]::ParameterName, 'Account to act in (default: your own)')
            [CompletionResult]::new('--user', '--user', [CompletionResultType]::ParameterName, 'Platform user to act as on an embedded platform (default: the local operator)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print only data and errors')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print only data and errors')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Say more about what is happening (repeat for more)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Say more about what is happening (repeat for more)')
            [CompletionResult]::new('--no-input', '--no-input', [CompletionResultType]::ParameterName, 'Never prompt; fail listing every missing value instead')
            [CompletionResult]::new('-y', '-y', [CompletionResultType]::ParameterName, 'Answer yes to confirmations')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Answer yes to confirmations')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('list', 'list', [CompletionResultType]::ParameterValue, 'List the current account''s groups')
            [CompletionResult]::new('ls', 'ls', [CompletionResultType]::ParameterValue, 'List the current account''s groups')
            [CompletionResult]::new('show', 'show', [CompletionResultType]::ParameterValue, 'Show one group with its permissions and members')
            [CompletionResult]::new('create', 'create', [CompletionResultType]::ParameterValue, 'Create a group with permissions')
            [CompletionResult]::new('update', 'update', [CompletionResultType]::ParameterValue, 'Add or remove permissions of a group')
            [CompletionResult]::new('delete', 'delete', [CompletionResultType]::ParameterValue, 'Delete a group (predefined groups stay)')
            [CompletionResult]::new('rm', 'rm', [CompletionResultType]::ParameterValue, 'Delete a group (predefined groups stay)')
            [CompletionResult]::new('add-member', 'add-member', [CompletionResultType]::ParameterValue, 'Add a linked user to a group')
            [CompletionResult]::new('remove-member', 'remove-member', [CompletionResultType]::ParameterValue, 'Remove a user from a group')
            [CompletionResult]::new('link-idp', 'link-idp', [CompletionResultType]::ParameterValue, 'Give the members of an identity-provider group this group''s permissions')
            [CompletionResult]::new('unlink-idp', 'unlink-idp', [CompletionResultType]::ParameterValue, 'Remove an identity-provider group''s link to this group')
            [CompletionResult]::new('permissions', 'permissions', [CompletionResultType]::ParameterValue, 'List every permission a group can hold')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'plat;group;list' {
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format: a table for people, JSON or YAML documents for programs')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format: a table for people, JSON or YAML documents for programs')
            [CompletionResult]::new('--context', '--context', [CompletionResultType]::ParameterName, 'Context (platform connection) to use instead of the current one')
            [CompletionResult]::new('--account', '--account', [CompletionResultType]::ParameterName, 'Account to act in (default: your own)')
            [CompletionResult]::new('--user', '--user', [CompletionResultType]::ParameterName, 'Platform user to act as on an embedded platform (default: the local operator)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print only data and errors')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print only data and errors')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Say more about what is happening (repeat for more)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Say more about what is happening (repeat for more)')
            [CompletionResult]::new('--no-input', '--no-input', [CompletionResultType]::ParameterName, 'Never prompt; fail listing every missing value instead')
            [CompletionResult]::new('-y', '-y', [CompletionResultType]::ParameterName, 'Answer yes to confirmations')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Answer yes to confirmations')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'plat;group;ls' {
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format: a table for people, JSON or YAML documents for programs')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format: a table for people, JSON or YAML documents for programs')
            [CompletionResult]::new('--context', '--context', [CompletionResultType]::ParameterName, 'Context (platform connection) to use instead of the current one')
            [CompletionResult]::new('--account', '--account', [CompletionResultType]::ParameterName, 'Account to act in (default: your own)')
            [CompletionResult]::new('--user', '--user', [CompletionResultType]::ParameterName, 'Platform user to act as on an embedded platform (default: the local operator)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print only data and errors')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print only data and errors')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Say more about what is happening (repeat for more)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Say more about what is happening (repeat for more)')
            [CompletionResult]::new('--no-input', '--no-input', [CompletionResultType]::ParameterName, 'Never prompt; fail listing every missing value instead')
            [CompletionResult]::new('-y', '-y', [CompletionResultType]::ParameterName, 'Answer yes to confirmations')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Answer yes to confirmations')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'plat;group;show' {
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format: a table for people, JSON or YAML documents for programs')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format: a table for people, JSON or YAML documents for programs')
            [CompletionResult]::new('--context', '--context', [CompletionResultType]::ParameterName, 'Context (platform connection) to use instead of the current one')
            [CompletionResult]::new('--account', '--account', [CompletionResultType]::ParameterName, 'Account to act in (default: your own)')
            [CompletionResult]::new('--user', '--user', [CompletionResultType]::ParameterName, 'Platform user to act as on an embedded platform (default: the local operator)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print only data and errors')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print only data and errors')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Say more about what is happening (repeat for more)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Say more about what is happening (repeat for more)')
            [CompletionResult]::new('--no-input', '--no-input', [CompletionResultType]::ParameterName, 'Never prompt; fail listing every missing value instead')
            [CompletionResult]::new('-y', '-y', [CompletionResultType]::ParameterName, 'Answer yes to confirmations')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Answer yes to confirmations')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'plat;group;create' {
            [CompletionResult]::new('--permission', '--permission', [CompletionResultType]::ParameterName, 'Permission to grant (repeatable), e.g. envs:write')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format: a table for people, JSON or YAML documents for programs')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format: a table for people, JSON or YAML documents for programs')
            [CompletionResult]::new('--context', '--context', [CompletionResultType]::ParameterName, 'Context (platform connection) to use instead of the current one')
            [CompletionResult]::new('--account', '--account', [CompletionResultType]::ParameterName, 'Account to act in (default: your own)')
            [CompletionResult]::new('--user', '--user', [CompletionResultType]::ParameterName, 'Platform user to act as on an embedded platform (default: the local operator)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print only data and errors')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print only data and errors')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Say more about what is happening (repeat for more)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Say more about what is happening (repeat for more)')
            [CompletionResult]::new('--no-input', '--no-input', [CompletionResultType]::ParameterName, 'Never prompt; fail listing every missing value instead')
            [CompletionResult]::new('-y', '-y', [CompletionResultType]::ParameterName, 'Answer yes to confirmations')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Answer yes to confirmations')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'plat;group;update' {
            [CompletionResult]::new('--add-permission', '--add-permission', [CompletionResultType]::ParameterName, 'Permission to add (repeatable)')
            [CompletionResult]::new('--remove-permission', '--remove-permission', [CompletionResultType]::ParameterName, 'Permission to remove (repeatable)')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format: a table for people, JSON or YAML documents for programs')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format: a table for people, JSON or YAML documents for programs')
            [CompletionResult]::new('--context', '--context', [CompletionResultType]::ParameterName, 'Context (platform connection) to use instead of the current one')
            [CompletionResult]::new('--account', '--account', [CompletionResultType]::ParameterName, 'Account to act in (default: your own)')
            [CompletionResult]::new('--user', '--user', [CompletionResultType]::ParameterName, 'Platform user to act as on an embedded platform (default: the local operator)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print only data and errors')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print only data and errors')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Say more about what is happening (repeat for more)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Say more about what is happening (repeat for more)')
            [CompletionResult]::new('--no-input', '--no-input', [CompletionResultType]::ParameterName, 'Never prompt; fail listing every missing value instead')
            [CompletionResult]::new('-y', '-y', [CompletionResultType]::ParameterName, 'Answer yes to confirmations')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Answer yes to confirmations')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'plat;group;delete' {
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format: a table for people, JSON or YAML documents for programs')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format: a table for people, JSON or YAML documents for programs')
            [CompletionResult]::new('--context', '--context', [CompletionResultType]::ParameterName, 'Context (platform connection) to use instead of the current one')
            [CompletionResult]::new('--account', '--account', [CompletionResultType]::ParameterName, 'Account to act in (default: your own)')
            [CompletionResult]::new('--user', '--user', [CompletionResultType]::ParameterName, 'Platform user to act as on an embedded platform (default: the local operator)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print only data and errors')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print only data and errors')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Say more about what is happening (repeat for more)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Say more about what is happening (repeat for more)')
            [CompletionResult]::new('--no-input', '--no-input', [CompletionResultType]::ParameterName, 'Never prompt; fail listing every missing value instead')
            [CompletionResult]::new('-y', '-y', [CompletionResultType]::ParameterName, 'Answer yes to confirmations')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Answer yes to confirmations')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'plat;group;rm' {
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format: a table for people, JSON or YAML documents for programs')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format: a table for people, JSON or YAML documents for programs')
            [CompletionResult]::new('--context', '--context', [CompletionResultType]::ParameterName, 'Context (platform connection) to use instead of the current one')
            [CompletionResult]::new('--account', '--account', [CompletionResultType]::ParameterName, 'Account to act in (default: your own)')
            [CompletionResult]::new('--user', '--user', [CompletionResultType]::ParameterName, 'Platform user to act as on an embedded platform (default: the local operator)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print only data and errors')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print only data and errors')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Say more about what is happening (repeat for more)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Say more about what is happening (repeat for more)')
            [CompletionResult]::new('--no-input', '--no-input', [CompletionResultType]::ParameterName, 'Never prompt; fail listing every missing value instead')
            [CompletionResult]::new('-y', '-y', [CompletionResultType]::ParameterName, 'Answer yes to confirmations')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Answer yes to confirmations')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'plat;group;add-member' {
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format: a table for people, JSON or YAML documents for programs')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format: a table for people, JSON or YAML documents for programs')
            [CompletionResult]::new('--context', '--context', [CompletionResultType]::ParameterName, 'Context (platform connection) to use instead of the current one')
            [CompletionResult]::new('--account', '--account', [CompletionResultType]::ParameterName, 'Account to act in (default: your own)')
            [CompletionResult]::new('--user', '--user', [CompletionResultType]::ParameterName, 'Platform user to act as on an embedded platform (default: the local operator)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print only data and errors')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print only data and errors')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Say more about what is happening (repeat for more)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Say more about what is happening (repeat for more)')
            [CompletionResult]::new('--no-input', '--no-input', [CompletionResultType]::ParameterName, 'Never prompt; fail listing every missing value instead')
            [CompletionResult]::new('-y', '-y', [CompletionResultType]::ParameterName, 'Answer yes to confirmations')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Answer yes to confirmations')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'plat;group;remove-member' {
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format: a table for people, JSON or YAML documents for programs')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format: a table for people, JSON or YAML documents for programs')
            [CompletionResult]::new('--context', '--context', [CompletionResultType]::ParameterName, 'Context (platform connection) to use instead of the current one')
            [CompletionResult]::new('--account', '--account', [CompletionResultType]::ParameterName, 'Account to act in (default: your own)')
            [CompletionResult]::new('--user', '--user', [CompletionResultType]::ParameterName, 'Platform user to act as on an embedded platform (default: the local operator)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print only data and errors')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print only data and errors')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Say more about what is happening (repeat for more)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Say more about what is happening (repeat for more)')
            [CompletionResult]::new('--no-input', '--no-input', [CompletionResultType]::ParameterName, 'Never prompt; fail listing every missing value instead')
            [CompletionResult]::new('-y', '-y', [CompletionResultType]::ParameterName, 'Answer yes to confirmations')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Answer yes to confirmations')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'plat;group;link-idp' {
            [CompletionResult]::new('--idp-group', '--idp-group', [CompletionResultType]::ParameterName, 'The IdP group as the server''s groups claim names it, e.g. /acme/release')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format: a table for people, JSON or YAML documents for programs')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format: a table for people, JSON or YAML documents for programs')
            [CompletionResult]::new('--context', '--context', [CompletionResultType]::ParameterName, 'Context (platform connection) to use instead of the current one')
            [CompletionResult]::new('--account', '--account', [CompletionResultType]::ParameterName, 'Account to act in (default: your own)')
            [CompletionResult]::new('--user', '--user', [CompletionResultType]::ParameterName, 'Platform user to act as on an embedded platform (default: the local operator)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print only data and errors')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print only data and errors')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Say more about what is happening (repeat for more)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Say more about what is happening (repeat for more)')
            [CompletionResult]::new('--no-input', '--no-input', [CompletionResultType]::ParameterName, 'Never prompt; fail listing every missing value instead')
            [CompletionResult]::new('-y', '-y', [CompletionResultType]::ParameterName, 'Answer yes to confirmations')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Answer yes to confirmations')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'plat;group;unlink-idp' {
            [CompletionResult]::new('--idp-group', '--idp-group', [CompletionResultType]::ParameterName, 'The IdP group as the server''s groups claim names it, e.g. /acme/release')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format: a table for people, JSON or YAML documents for programs')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format: a table for people, JSON or YAML documents for programs')
            [CompletionResult]::new('--context', '--context', [CompletionResultType]::ParameterName, 'Context (platform connection) to use instead of the current one')
            [CompletionResult]::new('--account', '--account', [CompletionResultType]::ParameterName, 'Account to act in (default: your own)')
            [CompletionResult]::new('--user', '--user', [CompletionResultType]::ParameterName, 'Platform user to act as on an embedded platform (default: the local operator)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print only data and errors')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print only data and errors')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Say more about what is happening (repeat for more)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Say more about what is happening (repeat for more)')
            [CompletionResult]::new('--no-input', '--no-input', [CompletionResultType]::ParameterName, 'Never prompt; fail listing every missing value instead')
            [CompletionResult]::new('-y', '-y', [CompletionResultType]::ParameterName, 'Answer yes to confirmations')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Answer yes to confirmations')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'plat;group;permissions' {
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format: a table for people, JSON or YAML documents for programs')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format: a table for people, JSON or YAML documents for programs')
            [CompletionResult]::new('--context', '--context', [CompletionResultType]::ParameterName, 'Context (platform connection) to use instead of the current one')
            [CompletionResult]::new('--account', '--account', [CompletionResultType]::ParameterName, 'Account to act in (default: your own)')
            [CompletionResult]::new('--user', '--user', [CompletionResultType]::ParameterName, 'Platform user to act as on an embedded platform (default: the local operator)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print only data and errors')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print only data and errors')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Say more about what is happening (repeat for more)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Say more about what is happening (repeat for more)')
            [CompletionResult]::new('--no-input', '--no-input', [CompletionResultType]::ParameterName, 'Never prompt; fail listing every missing value instead')
            [CompletionResult]::new('-y', '-y', [CompletionResultType]::ParameterName, 'Answer yes to confirmations')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Answer yes to confirmations')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'plat;group;help' {
            [CompletionResult]::new('list', 'list', [CompletionResultType]::ParameterValue, 'List the current account''s groups')
            [CompletionResult]::new('show', 'show', [CompletionResultType]::ParameterValue, 'Show one group with its permissions and members')
            [CompletionResult]::new('create', 'create', [CompletionResultType]::ParameterValue, 'Create a group with permissions')
            [CompletionResult]::new('update', 'update', [CompletionResultType]::ParameterValue, 'Add or remove permissions of a group')
            [CompletionResult]::new('delete', 'delete', [CompletionResultType]::ParameterValue, 'Delete a group (predefined groups stay)')
            [CompletionResult]::new('add-member', 'add-member', [CompletionResultType]::ParameterValue, 'Add a linked user to a group')
            [CompletionResult]::new('remove-member', 'remove-member', [CompletionResultType]::ParameterValue, 'Remove a user from a group')
            [CompletionResult]::new('link-idp', 'link-idp', [CompletionResultType]::ParameterValue, 'Give the members of an identity-provider group this group''s permissions')
            [CompletionResult]::new('unlink-idp', 'unlink-idp', [CompletionResultType]::ParameterValue, 'Remove an identity-provider group''s link to this group')
            [CompletionResult]::new('permissions', 'permissions', [CompletionResultType]::ParameterValue, 'List every permission a group can hold')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'plat;group;help;list' {
            break
        }
        'plat;group;help;show' {
            break
        }
        'plat;group;help;create' {
            break
        }
        'plat;group;help;update' {
            break
        }
        'plat;group;help;delete' {
            break
        }
        'plat;group;help;add-member' {
            break
        }
        'plat;group;help;remove-member' {
            break
        }
        'plat;group;help;link-idp' {
            break
        }
        'plat;group;help;unlink-idp' {
            break
        }
        'plat;group;help;permissions' {
            break
        }
        'plat;group;help;help' {
            break
        }
        'plat;trust' {
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format: a table for people, JSON or YAML documents for programs')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format: a table for people, JSON or YAML documents for programs')
            [CompletionResult]::new('--context', '--context', [CompletionResultType]::ParameterName, 'Context (platform connection) to use instead of the current one')
            [CompletionResult]::new('--account', '--account', [CompletionResultType]::ParameterName, 'Account to act in (default: your own)')
            [CompletionResult]::new('--user', '--user', [CompletionResultType]::ParameterName, 'Platform user to act as on an embedded platform (default: the local operator)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print only data and errors')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print only data and errors')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Say more about what is happening (repeat for more)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Say more about what is happening (repeat for more)')
            [CompletionResult]::new('--no-input', '--no-input', [CompletionResultType]::ParameterName, 'Never prompt; fail listing every missing value instead')
            [CompletionResult]::new('-y', '-y', [CompletionResultType]::ParameterName, 'Answer yes to confirmations')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Answer yes to confirmations')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('list', 'list', [CompletionResultType]::ParameterValue, 'List the account''s trust rules')
            [CompletionResult]::new('ls', 'ls', [CompletionResultType]::ParameterValue, 'List the account''s trust rules')
            [CompletionResult]::new('add', 'add', [CompletionResultType]::ParameterValue, 'Let tokens of an external issuer (a GitHub Actions job) act with a group''s permissions')
            [CompletionResult]::new('delete', 'delete', [CompletionResultType]::ParameterValue, 'Delete a trust rule: its tokens are refused from the next request')
            [CompletionResult]::new('rm', 'rm', [CompletionResultType]::ParameterValue, 'Delete a trust rule: its tokens are refused from the next request')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'plat;trust;list' {
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format: a table for people, JSON or YAML documents for programs')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format: a table for people, JSON or YAML documents for programs')
            [CompletionResult]::new('--context', '--context', [CompletionResultType]::ParameterName, 'Context (platform connection) to use instead of the current one')
            [CompletionResult]::new('--account', '--account', [CompletionResultType]::ParameterName, 'Account to act in (default: your own)')
            [CompletionResult]::new('--user', '--user', [CompletionResultType]::ParameterName, 'Platform user to act as on an embedded platform (default: the local operator)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print only data and errors')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print only data and errors')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Say more about what is happening (repeat for more)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Say more about what is happening (repeat for more)')
            [CompletionResult]::new('--no-input', '--no-input', [CompletionResultType]::ParameterName, 'Never prompt; fail listing every missing value instead')
            [CompletionResult]::new('-y', '-y', [CompletionResultType]::ParameterName, 'Answer yes to confirmations')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Answer yes to confirmations')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'plat;trust;ls' {
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format: a table for people, JSON or YAML documents for programs')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format: a table for people, JSON or YAML documents for programs')
            [CompletionResult]::new('--context', '--context', [CompletionResultType]::ParameterName, 'Context (platform connection) to use instead of the current one')
            [CompletionResult]::new('--account', '--account', [CompletionResultType]::ParameterName, 'Account to act in (default: your own)')
            [CompletionResult]::new('--user', '--user', [CompletionResultType]::ParameterName, 'Platform user to act as on an embedded platform (default: the local operator)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print only data and errors')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print only data and errors')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Say more about what is happening (repeat for more)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Say more about what is happening (repeat for more)')
            [CompletionResult]::new('--no-input', '--no-input', [CompletionResultType]::ParameterName, 'Never prompt; fail listing every missing value instead')
            [CompletionResult]::new('-y', '-y', [CompletionResultType]::ParameterName, 'Answer yes to confirmations')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Answer yes to confirmations')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'plat;trust;add' {
            [CompletionResult]::new('--issuer', '--issuer', [CompletionResultType]::ParameterName, 'The issuer URL, as the tokens'' `iss` claim has it')
            [CompletionResult]::new('--audience', '--audience', [CompletionResultType]::ParameterName, 'The audience the tokens must be for (`plat login --github-actions --audience`)')
            [CompletionResult]::new('--claim', '--claim', [CompletionResultType]::ParameterName, 'A claim the token must have (repeatable; all must match), e.g. repository=acme/shop')
            [CompletionResult]::new('--group', '--group', [CompletionResultType]::ParameterName, 'The account''s group whose permissions the tokens act with')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format: a table for people, JSON or YAML documents for programs')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format: a table for people, JSON or YAML documents for programs')
            [CompletionResult]::new('--context', '--context', [CompletionResultType]::ParameterName, 'Context (platform connection) to use instead of the current one')
            [CompletionResult]::new('--account', '--account', [CompletionResultType]::ParameterName, 'Account to act in (default: your own)')
            [CompletionResult]::new('--user', '--user', [CompletionResultType]::ParameterName, 'Platform user to act as on an embedded platform (default: the local operator)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print only data and errors')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print only data and errors')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Say more about what is happening (repeat for more)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Say more about what is happening (repeat for more)')
            [CompletionResult]::new('--no-input', '--no-input', [CompletionResultType]::ParameterName, 'Never prompt; fail listing every missing value instead')
            [CompletionResult]::new('-y', '-y', [CompletionResultType]::ParameterName, 'Answer yes to confirmations')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Answer yes to confirmations')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'plat;trust;delete' {
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format: a table for people, JSON or YAML documents for programs')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format: a table for people, JSON or YAML documents for programs')
            [CompletionResult]::new('--context', '--context', [CompletionResultType]::ParameterName, 'Context (platform connection) to use instead of the current one')
            [CompletionResult]::new('--account', '--account', [CompletionResultType]::ParameterName, 'Account to act in (default: your own)')
            [CompletionResult]::new('--user', '--user', [CompletionResultType]::ParameterName, 'Platform user to act as on an embedded platform (default: the local operator)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print only data and errors')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print only data and errors')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Say more about what is happening (repeat for more)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Say more about what is happening (repeat for more)')
            [CompletionResult]::new('--no-input', '--no-input', [CompletionResultType]::ParameterName, 'Never prompt; fail listing every missing value instead')
            [CompletionResult]::new('-y', '-y', [CompletionResultType]::ParameterName, 'Answer yes to confirmations')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Answer yes to confirmations')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'plat;trust;rm' {
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format: a table for people, JSON or YAML documents for programs')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format: a table for people, JSON or YAML documents for programs')
            [CompletionResult]::new('--context', '--context', [CompletionResultType]::ParameterName, 'Context (platform connection) to use instead of the current one')
            [CompletionResult]::new('--account', '--account', [CompletionResultType]::ParameterName, 'Account to act in (default: your own)')
            [CompletionResult]::new('--user', '--user', [CompletionResultType]::ParameterName, 'Platform user to act as on an embedded platform (default: the local operator)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print only data and errors')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print only data and errors')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Say more about what is happening (repeat for more)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Say more about what is happening (repeat for more)')
            [CompletionResult]::new('--no-input', '--no-input', [CompletionResultType]::ParameterName, 'Never prompt; fail listing every missing value instead')
            [CompletionResult]::new('-y', '-y', [CompletionResultType]::ParameterName, 'Answer yes to confirmations')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Answer yes to confirmations')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'plat;trust;help' {
            [CompletionResult]::new('list', 'list', [CompletionResultType]::ParameterValue, 'List the account''s trust rules')
            [CompletionResult]::new('add', 'add', [CompletionResultType]::ParameterValue, 'Let tokens of an external issuer (a GitHub Actions job) act with a group''s permissions')
            [CompletionResult]::new('delete', 'delete', [CompletionResultType]::ParameterValue, 'Delete a trust rule: its tokens are refused from the next request')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'plat;trust;help;list' {
            break
        }
        'plat;trust;help;add' {
            break
        }
        'plat;trust;help;delete' {
            break
        }
        'plat;trust;help;help' {
            break
        }
        'plat;context' {
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format: a table for people, JSON or YAML documents for programs')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format: a table for people, JSON or YAML documents for programs')
            [CompletionResult]::new('--context', '--context', [CompletionResultType]::ParameterName, 'Context (platform connection) to use instead of the current one')
            [CompletionResult]::new('--account', '--account', [CompletionResultType]::ParameterName, 'Account to act in (default: your own)')
            [CompletionResult]::new('--user', '--user', [CompletionResultType]::ParameterName, 'Platform user to act as on an embedded platform (default: the local operator)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print only data and errors')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print only data and errors')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Say more about what is happening (repeat for more)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Say more about what is happening (repeat for more)')
            [CompletionResult]::new('--no-input', '--no-input', [CompletionResultType]::ParameterName, 'Never prompt; fail listing every missing value instead')
            [CompletionResult]::new('-y', '-y', [CompletionResultType]::ParameterName, 'Answer yes to confirmations')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Answer yes to confirmations')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('list', 'list', [CompletionResultType]::ParameterValue, 'List contexts; the current one is marked')
            [CompletionResult]::new('ls', 'ls', [CompletionResultType]::ParameterValue, 'List contexts; the current one is marked')
            [CompletionResult]::new('show', 'show', [CompletionResultType]::ParameterValue, 'Show a context (default: the current one)')
            [CompletionResult]::new('use', 'use', [CompletionResultType]::ParameterValue, 'Make a context the current one')
            [CompletionResult]::new('add', 'add', [CompletionResultType]::ParameterValue, 'Add or replace a context')
            [CompletionResult]::new('delete', 'delete', [CompletionResultType]::ParameterValue, 'Delete a context')
            [CompletionResult]::new('rm', 'rm', [CompletionResultType]::ParameterValue, 'Delete a context')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'plat;context;list' {
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format: a table for people, JSON or YAML documents for programs')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format: a table for people, JSON or YAML documents for programs')
            [CompletionResult]::new('--context', '--context', [CompletionResultType]::ParameterName, 'Context (platform connection) to use instead of the current one')
            [CompletionResult]::new('--account', '--account', [CompletionResultType]::ParameterName, 'Account to act in (default: your own)')
            [CompletionResult]::new('--user', '--user', [CompletionResultType]::ParameterName, 'Platform user to act as on an embedded platform (default: the local operator)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print only data and errors')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print only data and errors')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Say more about what is happening (repeat for more)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Say more about what is happening (repeat for more)')
            [CompletionResult]::new('--no-input', '--no-input', [CompletionResultType]::ParameterName, 'Never prompt; fail listing every missing value instead')
            [CompletionResult]::new('-y', '-y', [CompletionResultType]::ParameterName, 'Answer yes to confirmations')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Answer yes to confirmations')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'plat;context;ls' {
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format: a table for people, JSON or YAML documents for programs')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format: a table for people, JSON or YAML documents for programs')
            [CompletionResult]::new('--context', '--context', [CompletionResultType]::ParameterName, 'Context (platform connection) to use instead of the current one')
            [CompletionResult]::new('--account', '--account', [CompletionResultType]::ParameterName, 'Account to act in (default: your own)')
            [CompletionResult]::new('--user', '--user', [CompletionResultType]::ParameterName, 'Platform user to act as on an embedded platform (default: the local operator)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print only data and errors')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print only data and errors')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Say more about what is happening (repeat for more)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Say more about what is happening (repeat for more)')
            [CompletionResult]::new('--no-input', '--no-input', [CompletionResultType]::ParameterName, 'Never prompt; fail listing every missing value instead')
            [CompletionResult]::new('-y', '-y', [CompletionResultType]::ParameterName, 'Answer yes to confirmations')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Answer yes to confirmations')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'plat;context;show' {
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format: a table for people, JSON or YAML documents for programs')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format: a table for people, JSON or YAML documents for programs')
            [CompletionResult]::new('--context', '--context', [CompletionResultType]::ParameterName, 'Context (platform connection) to use instead of the current one')
            [CompletionResult]::new('--account', '--account', [CompletionResultType]::ParameterName, 'Account to act in (default: your own)')
            [CompletionResult]::new('--user', '--user', [CompletionResultType]::ParameterName, 'Platform user to act as on an embedded platform (default: the local operator)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print only data and errors')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print only data and errors')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Say more about what is happening (repeat for more)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Say more about what is happening (repeat for more)')
            [CompletionResult]::new('--no-input', '--no-input', [CompletionResultType]::ParameterName, 'Never prompt; fail listing every missing value instead')
            [CompletionResult]::new('-y', '-y', [CompletionResultType]::ParameterName, 'Answer yes to confirmations')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Answer yes to confirmations')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'plat;context;use' {
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format: a table for people, JSON or YAML documents for programs')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format: a table for people, JSON or YAML documents for programs')
            [CompletionResult]::new('--context', '--context', [CompletionResultType]::ParameterName, 'Context (platform connection) to use instead of the current one')
            [CompletionResult]::new('--account', '--account', [CompletionResultType]::ParameterName, 'Account to act in (default: your own)')
            [CompletionResult]::new('--user', '--user', [CompletionResultType]::ParameterName, 'Platform user to act as on an embedded platform (default: the local operator)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print only data and errors')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print only data and errors')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Say more about what is happening (repeat for more)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Say more about what is happening (repeat for more)')
            [CompletionResult]::new('--no-input', '--no-input', [CompletionResultType]::ParameterName, 'Never prompt; fail listing every missing value instead')
            [CompletionResult]::new('-y', '-y', [CompletionResultType]::ParameterName, 'Answer yes to confirmations')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Answer yes to confirmations')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'plat;context;add' {
            [CompletionResult]::new('--server', '--server', [CompletionResultType]::ParameterName, 'URL of a `plat server` (omit for the embedded platform)')
            [CompletionResult]::new('--database-url', '--database-url', [CompletionResultType]::ParameterName, 'Database of an embedded platform (default: SQLite in the data dir)')
            [CompletionResult]::new('--as', '--as', [CompletionResultType]::ParameterName, 'Platform user to act as (embedded platform only)')
            [CompletionResult]::new('--default-account', '--default-account', [CompletionResultType]::ParameterName, 'Account to act in by default')
            [CompletionResult]::new('--iac-bin', '--iac-bin', [CompletionResultType]::ParameterName, 'Terraform or OpenTofu binary to use')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format: a table for people, JSON or YAML documents for programs')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format: a table for people, JSON or YAML documents for programs')
            [CompletionResult]::new('--context', '--context', [CompletionResultType]::ParameterName, 'Context (platform connection) to use instead of the current one')
            [CompletionResult]::new('--account', '--account', [CompletionResultType]::ParameterName, 'Account to act in (default: your own)')
            [CompletionResult]::new('--use', '--use', [CompletionResultType]::ParameterName, 'Make it the current context')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print only data and errors')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print only data and errors')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Say more about what is happening (repeat for more)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Say more about what is happening (repeat for more)')
            [CompletionResult]::new('--no-input', '--no-input', [CompletionResultType]::ParameterName, 'Never prompt; fail listing every missing value instead')
            [CompletionResult]::new('-y', '-y', [CompletionResultType]::ParameterName, 'Answer yes to confirmations')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Answer yes to confirmations')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'plat;context;delete' {
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format: a table for people, JSON or YAML documents for programs')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format: a table for people, JSON or YAML documents for programs')
            [CompletionResult]::new('--context', '--context', [CompletionResultType]::ParameterName, 'Context (platform connection) to use instead of the current one')
            [CompletionResult]::new('--account', '--account', [CompletionResultType]::ParameterName, 'Account to act in (default: your own)')
            [CompletionResult]::new('--user', '--user', [CompletionResultType]::ParameterName, 'Platform user to act as on an embedded platform (default: the local operator)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print only data and errors')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print only data and errors')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Say more about what is happening (repeat for more)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Say more about what is happening (repeat for more)')
            [CompletionResult]::new('--no-input', '--no-input', [CompletionResultType]::ParameterName, 'Never prompt; fail listing every missing value instead')
            [CompletionResult]::new('-y', '-y', [CompletionResultType]::ParameterName, 'Answer yes to confirmations')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Answer yes to confirmations')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'plat;context;rm' {
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format: a table for people, JSON or YAML documents for programs')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format: a table for people, JSON or YAML documents for programs')
            [CompletionResult]::new('--context', '--context', [CompletionResultType]::ParameterName, 'Context (platform connection) to use instead of the current one')
            [CompletionResult]::new('--account', '--account', [CompletionResultType]::ParameterName, 'Account to act in (default: your own)')
            [CompletionResult]::new('--user', '--user', [CompletionResultType]::ParameterName, 'Platform user to act as on an embedded platform (default: the local operator)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print only data and errors')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print only data and errors')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Say more about what is happening (repeat for more)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Say more about what is happening (repeat for more)')
            [CompletionResult]::new('--no-input', '--no-input', [CompletionResultType]::ParameterName, 'Never prompt; fail listing every missing value instead')
            [CompletionResult]::new('-y', '-y', [CompletionResultType]::ParameterName, 'Answer yes to confirmations')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Answer yes to confirmations')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'plat;context;help' {
            [CompletionResult]::new('list', 'list', [CompletionResultType]::ParameterValue, 'List contexts; the current one is marked')
            [CompletionResult]::new('show', 'show', [CompletionResultType]::ParameterValue, 'Show a context (default: the current one)')
            [CompletionResult]::new('use', 'use', [CompletionResultType]::ParameterValue, 'Make a context the current one')
            [CompletionResult]::new('add', 'add', [CompletionResultType]::ParameterValue, 'Add or replace a context')
            [CompletionResult]::new('delete', 'delete', [CompletionResultType]::ParameterValue, 'Delete a context')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'plat;context;help;list' {
            break
        }
        'plat;context;help;show' {
            break
        }
        'plat;context;help;use' {
            break
        }
        'plat;context;help;add' {
            break
        }
        'plat;context;help;delete' {
            break
        }
        'plat;context;help;help' {
            break
        }
        'plat;whoami' {
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format: a table for people, JSON or YAML documents for programs')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format: a table for people, JSON or YAML documents for programs')
            [CompletionResult]::new('--context', '--context', [CompletionResultType]::ParameterName, 'Context (platform connection) to use instead of the current one')
            [CompletionResult]::new('--account', '--account', [CompletionResultType]::ParameterName, 'Account to act in (default: your own)')
            [CompletionResult]::new('--user', '--user', [CompletionResultType]::ParameterName, 'Platform user to act as on an embedded platform (default: the local operator)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print only data and errors')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print only data and errors')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Say more about what is happening (repeat for more)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Say more about what is happening (repeat for more)')
            [CompletionResult]::new('--no-input', '--no-input', [CompletionResultType]::ParameterName, 'Never prompt; fail listing every missing value instead')
            [CompletionResult]::new('-y', '-y', [CompletionResultType]::ParameterName, 'Answer yes to confirmations')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Answer yes to confirmations')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'plat;env' {
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format: a table for people, JSON or YAML documents for programs')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format: a table for people, JSON or YAML documents for programs')
            [CompletionResult]::new('--context', '--context', [CompletionResultType]::ParameterName, 'Context (platform connection) to use instead of the current one')
            [CompletionResult]::new('--account', '--account', [CompletionResultType]::ParameterName, 'Account to act in (default: your own)')
            [CompletionResult]::new('--user', '--user', [CompletionResultType]::ParameterName, 'Platform user to act as on an embedded platform (default: the local operator)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print only data and errors')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print only data and errors')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Say more about what is happening (repeat for more)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Say more about what is happening (repeat for more)')
            [CompletionResult]::new('--no-input', '--no-input', [CompletionResultType]::ParameterName, 'Never prompt; fail listing every missing value instead')
            [CompletionResult]::new('-y', '-y', [CompletionResultType]::ParameterName, 'Answer yes to confirmations')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Answer yes to confirmations')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('template', 'template', [CompletionResultType]::ParameterValue, 'Environment templates: built-in ones and those in PLAT_TEMPLATE_PATH')
            [CompletionResult]::new('up', 'up', [CompletionResultType]::ParameterValue, 'Provision an environment from a template (Terraform/OpenTofu); it is destroyed when it expires')
            [CompletionResult]::new('list', 'list', [CompletionResultType]::ParameterValue, 'List this account''s environments')
            [CompletionResult]::new('ls', 'ls', [CompletionResultType]::ParameterValue, 'List this account''s environments')
            [CompletionResult]::new('show', 'show', [CompletionResultType]::ParameterValue, 'Show an environment: status, expiry, resources, outputs')
            [CompletionResult]::new('logs', 'logs', [CompletionResultType]::ParameterValue, 'Print the Terraform log of an environment''s last run')
            [CompletionResult]::new('outputs', 'outputs', [CompletionResultType]::ParameterValue, 'Print an environment''s outputs (sensitive values redacted)')
            [CompletionResult]::new('extend', 'extend', [CompletionResultType]::ParameterValue, 'Push an environment''s expiry to now + DURATION (capped by the policy''s maximum lifetime)')
            [CompletionResult]::new('down', 'down', [CompletionResultType]::ParameterValue, 'Destroy an environment; an environment already gone is not an error')
            [CompletionResult]::new('quota', 'quota', [CompletionResultType]::ParameterValue, 'How many environments you may still create today')
            [CompletionResult]::new('reap', 'reap', [CompletionResultType]::ParameterValue, 'Destroy every expired environment (for cron or a CI schedule)')
            [CompletionResult]::new('approve', 'approve', [CompletionResultType]::ParameterValue, 'Approve an environment of a protected template; its requester''s `env up` then provisions it')
            [CompletionResult]::new('reject', 'reject', [CompletionResultType]::ParameterValue, 'Reject an environment of a protected template; nothing is provisioned')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'plat;env;template' {
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format: a table for people, JSON or YAML documents for programs')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format: a table for people, JSON or YAML documents for programs')
            [CompletionResult]::new('--context', '--context', [CompletionResultType]::ParameterName, 'Context (platform connection) to use instead of the current one')
            [CompletionResult]::new('--account', '--account', [CompletionResultType]::ParameterName, 'Account to act in (default: your own)')
            [CompletionResult]::new('--user', '--user', [CompletionResultType]::ParameterName, 'Platform user to act as on an embedded platform (default: the local operator)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print only data and errors')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print only data and errors')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Say more about what is happening (repeat for more)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Say more about what is happening (repeat for more)')
            [CompletionResult]::new('--no-input', '--no-input', [CompletionResultType]::ParameterName, 'Never prompt; fail listing every missing value instead')
            [CompletionResult]::new('-y', '-y', [CompletionResultType]::ParameterName, 'Answer yes to confirmations')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Answer yes to confirmations')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('list', 'list', [CompletionResultType]::ParameterValue, 'List the templates')
            [CompletionResult]::new('ls', 'ls', [CompletionResultType]::ParameterValue, 'List the templates')
            [CompletionResult]::new('show', 'show', [CompletionResultType]::ParameterValue, 'Show a template''s parameters and lifetime limits')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'plat;env;template;list' {
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format: a table for people, JSON or YAML documents for programs')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format: a table for people, JSON or YAML documents for programs')
            [CompletionResult]::new('--context', '--context', [CompletionResultType]::ParameterName, 'Context (platform connection) to use instead of the current one')
            [CompletionResult]::new('--account', '--account', [CompletionResultType]::ParameterName, 'Account to act in (default: your own)')
            [CompletionResult]::new('--user', '--user', [CompletionResultType]::ParameterName, 'Platform user to act as on an embedded platform (default: the local operator)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print only data and errors')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print only data and errors')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Say more about what is happening (repeat for more)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Say more about what is happening (repeat for more)')
            [CompletionResult]::new('--no-input', '--no-input', [CompletionResultType]::ParameterName, 'Never prompt; fail listing every missing value instead')
            [CompletionResult]::new('-y', '-y', [CompletionResultType]::ParameterName, 'Answer yes to confirmations')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Answer yes to confirmations')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'plat;env;template;ls' {
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format: a table for people, JSON or YAML documents for programs')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format: a table for people, JSON or YAML documents for programs')
            [CompletionResult]::new('--context', '--context', [CompletionResultType]::ParameterName, 'Context (platform connection) to use instead of the current one')
            [CompletionResult]::new('--account', '--account', [CompletionResultType]::ParameterName, 'Account to act in (default: your own)')
            [CompletionResult]::new('--user', '--user', [CompletionResultType]::ParameterName, 'Platform user to act as on an embedded platform (default: the local operator)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print only data and errors')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print only data and errors')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Say more about what is happening (repeat for more)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Say more about what is happening (repeat for more)')
            [CompletionResult]::new('--no-input', '--no-input', [CompletionResultType]::ParameterName, 'Never prompt; fail listing every missing value instead')
            [CompletionResult]::new('-y', '-y', [CompletionResultType]::ParameterName, 'Answer yes to confirmations')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Answer yes to confirmations')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'plat;env;template;show' {
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format: a table for people, JSON or YAML documents for programs')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format: a table for people, JSON or YAML documents for programs')
            [CompletionResult]::new('--context', '--context', [CompletionResultType]::ParameterName, 'Context (platform connection) to use instead of the current one')
            [CompletionResult]::new('--account', '--account', [CompletionResultType]::ParameterName, 'Account to act in (default: your own)')
            [CompletionResult]::new('--user', '--user', [CompletionResultType]::ParameterName, 'Platform user to act as on an embedded platform (default: the local operator)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print only data and errors')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print only data and errors')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Say more about what is happening (repeat for more)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Say more about what is happening (repeat for more)')
            [CompletionResult]::new('--no-input', '--no-input', [CompletionResultType]::ParameterName, 'Never prompt; fail listing every missing value instead')
            [CompletionResult]::new('-y', '-y', [CompletionResultType]::ParameterName, 'Answer yes to confirmations')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Answer yes to confirmations')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'plat;env;template;help' {
            [CompletionResult]::new('list', 'list', [CompletionResultType]::ParameterValue, 'List the templates')
            [CompletionResult]::new('show', 'show', [CompletionResultType]::ParameterValue, 'Show a template''s parameters and lifetime limits')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'plat;env;template;help;list' {
            break
        }
        'plat;env;template;help;show' {
            break
        }
        'plat;env;template;help;help' {
            break
        }
        'plat;env;up' {
            [CompletionResult]::new('-t', '-t', [CompletionResultType]::ParameterName, 'Template to provision')
            [CompletionResult]::new('--template', '--template', [CompletionResultType]::ParameterName, 'Template to provision')
            [CompletionResult]::new('-p', '-p', [CompletionResultType]::ParameterName, 'Template parameter (repeatable)')
            [CompletionResult]::new('--param', '--param', [CompletionResultType]::ParameterName, 'Template parameter (repeatable)')
            [CompletionResult]::new('--param-file', '--param-file', [CompletionResultType]::ParameterName, 'YAML file of template parameters (--param wins)')
            [CompletionResult]::new('--ttl', '--ttl', [CompletionResultType]::ParameterName, 'Lifetime, e.g. 45m or 2h (default: the policy''s, 30m)')
            [CompletionResult]::new('--idempotency-key', '--idempotency-key', [CompletionResultType]::ParameterName, 'Key that makes a retried `up` return the first try''s environment instead of a new one')
            [CompletionResult]::new('--events', '--events', [CompletionResultType]::ParameterName, 'Stream Terraform events as machine-readable lines')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format: a table for people, JSON or YAML documents for programs')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format: a table for people, JSON or YAML documents for programs')
            [CompletionResult]::new('--context', '--context', [CompletionResultType]::ParameterName, 'Context (platform connection) to use instead of the current one')
            [CompletionResult]::new('--account', '--account', [CompletionResultType]::ParameterName, 'Account to act in (default: your own)')
            [CompletionResult]::new('--user', '--user', [CompletionResultType]::ParameterName, 'Platform user to act as on an embedded platform (default: the local operator)')
            [CompletionResult]::new('--wait', '--wait', [CompletionResultType]::ParameterName, 'Wait until the environment is ready (the default); for a template that needs an approval, wait for the decision too (exit 6 when rejected or expired)')
            [CompletionResult]::new('--no-wait', '--no-wait', [CompletionResultType]::ParameterName, 'Return once the environment is recorded; Terraform goes on in the background (follow it with `plat env logs NAME -f`)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print only data and errors')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print only data and errors')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Say more about what is happening (repeat for more)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Say more about what is happening (repeat for more)')
            [CompletionResult]::new('--no-input', '--no-input', [CompletionResultType]::ParameterName, 'Never prompt; fail listing every missing value instead')
            [CompletionResult]::new('-y', '-y', [CompletionResultType]::ParameterName, 'Answer yes to confirmations')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Answer yes to confirmations')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'plat;env;list' {
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format: a table for people, JSON or YAML documents for programs')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format: a table for people, JSON or YAML documents for programs')
            [CompletionResult]::new('--context', '--context', [CompletionResultType]::ParameterName, 'Context (platform connection) to use instead of the current one')
            [CompletionResult]::new('--account', '--account', [CompletionResultType]::ParameterName, 'Account to act in (default: your own)')
            [CompletionResult]::new('--user', '--user', [CompletionResultType]::ParameterName, 'Platform user to act as on an embedded platform (default: the local operator)')
            [CompletionResult]::new('--all', '--all', [CompletionResultType]::ParameterName, 'Include destroyed environments')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print only data and errors')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print only data and errors')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Say more about what is happening (repeat for more)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Say more about what is happening (repeat for more)')
            [CompletionResult]::new('--no-input', '--no-input', [CompletionResultType]::ParameterName, 'Never prompt; fail listing every missing value instead')
            [CompletionResult]::new('-y', '-y', [CompletionResultType]::ParameterName, 'Answer yes to confirmations')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Answer yes to confirmations')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'plat;env;ls' {
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format: a table for people, JSON or YAML documents for programs')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format: a table for people, JSON or YAML documents for programs')
            [CompletionResult]::new('--context', '--context', [CompletionResultType]::ParameterName, 'Context (platform connection) to use instead of the current one')
            [CompletionResult]::new('--account', '--account', [CompletionResultType]::ParameterName, 'Account to act in (default: your own)')
            [CompletionResult]::new('--user', '--user', [CompletionResultType]::ParameterName, 'Platform user to act as on an embedded platform (default: the local operator)')
            [CompletionResult]::new('--all', '--all', [CompletionResultType]::ParameterName, 'Include destroyed environments')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print only data and errors')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print only data and errors')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Say more about what is happening (repeat for more)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Say more about what is happening (repeat for more)')
            [CompletionResult]::new('--no-input', '--no-input', [CompletionResultType]::ParameterName, 'Never prompt; fail listing every missing value instead')
            [CompletionResult]::new('-y', '-y', [CompletionResultType]::ParameterName, 'Answer yes to confirmations')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Answer yes to confirmations')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'plat;env;show' {
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format: a table for people, JSON or YAML documents for programs')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format: a table for people, JSON or YAML documents for programs')
            [CompletionResult]::new('--context', '--context', [CompletionResultType]::ParameterName, 'Context (platform connection) to use instead of the current one')
            [CompletionResult]::new('--account', '--account', [CompletionResultType]::ParameterName, 'Account to act in (default: your own)')
            [CompletionResult]::new('--user', '--user', [CompletionResultType]::ParameterName, 'Platform user to act as on an embedded platform (default: the local operator)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print only data and errors')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print only data and errors')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Say more about what is happening (repeat for more)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Say more about what is happening (repeat for more)')
            [CompletionResult]::new('--no-input', '--no-input', [CompletionResultType]::ParameterName, 'Never prompt; fail listing every missing value instead')
            [CompletionResult]::new('-y', '-y', [CompletionResultType]::ParameterName, 'Answer yes to confirmations')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Answer yes to confirmations')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'plat;env;logs' {
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format: a table for people, JSON or YAML documents for programs')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format: a table for people, JSON or YAML documents for programs')
            [CompletionResult]::new('--context', '--context', [CompletionResultType]::ParameterName, 'Context (platform connection) to use instead of the current one')
            [CompletionResult]::new('--account', '--account', [CompletionResultType]::ParameterName, 'Account to act in (default: your own)')
            [CompletionResult]::new('--user', '--user', [CompletionResultType]::ParameterName, 'Platform user to act as on an embedded platform (default: the local operator)')
            [CompletionResult]::new('-f', '-f', [CompletionResultType]::ParameterName, 'Keep printing as the log grows, until the environment''s run ends')
            [CompletionResult]::new('--follow', '--follow', [CompletionResultType]::ParameterName, 'Keep printing as the log grows, until the environment''s run ends')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print only data and errors')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print only data and errors')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Say more about what is happening (repeat for more)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Say more about what is happening (repeat for more)')
            [CompletionResult]::new('--no-input', '--no-input', [CompletionResultType]::ParameterName, 'Never prompt; fail listing every missing value instead')
            [CompletionResult]::new('-y', '-y', [CompletionResultType]::ParameterName, 'Answer yes to confirmations')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Answer yes to confirmations')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'plat;env;outputs' {
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format: a table for people, JSON or YAML documents for programs')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format: a table for people, JSON or YAML documents for programs')
            [CompletionResult]::new('--context', '--context', [CompletionResultType]::ParameterName, 'Context (platform connection) to use instead of the current one')
            [CompletionResult]::new('--account', '--account', [CompletionResultType]::ParameterName, 'Account to act in (default: your own)')
            [CompletionResult]::new('--user', '--user', [CompletionResultType]::ParameterName, 'Platform user to act as on an embedded platform (default: the local operator)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print only data and errors')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print only data and errors')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Say more about what is happening (repeat for more)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Say more about what is happening (repeat for more)')
            [CompletionResult]::new('--no-input', '--no-input', [CompletionResultType]::ParameterName, 'Never prompt; fail listing every missing value instead')
            [CompletionResult]::new('-y', '-y', [CompletionResultType]::ParameterName, 'Answer yes to confirmations')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Answer yes to confirmations')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'plat;env;extend' {
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format: a table for people, JSON or YAML documents for programs')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format: a table for people, JSON or YAML documents for programs')
            [CompletionResult]::new('--context', '--context', [CompletionResultType]::ParameterName, 'Context (platform connection) to use instead of the current one')
            [CompletionResult]::new('--account', '--account', [CompletionResultType]::ParameterName, 'Account to act in (default: your own)')
            [CompletionResult]::new('--user', '--user', [CompletionResultType]::ParameterName, 'Platform user to act as on an embedded platform (default: the local operator)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print only data and errors')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print only data and errors')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Say more about what is happening (repeat for more)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Say more about what is happening (repeat for more)')
            [CompletionResult]::new('--no-input', '--no-input', [CompletionResultType]::ParameterName, 'Never prompt; fail listing every missing value instead')
            [CompletionResult]::new('-y', '-y', [CompletionResultType]::ParameterName, 'Answer yes to confirmations')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Answer yes to confirmations')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'plat;env;down' {
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format: a table for people, JSON or YAML documents for programs')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format: a table for people, JSON or YAML documents for programs')
            [CompletionResult]::new('--context', '--context', [CompletionResultType]::ParameterName, 'Context (platform connection) to use instead of the current one')
            [CompletionResult]::new('--account', '--account', [CompletionResultType]::ParameterName, 'Account to act in (default: your own)')
            [CompletionResult]::new('--user', '--user', [CompletionResultType]::ParameterName, 'Platform user to act as on an embedded platform (default: the local operator)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print only data and errors')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print only data and errors')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Say more about what is happening (repeat for more)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Say more about what is happening (repeat for more)')
            [CompletionResult]::new('--no-input', '--no-input', [CompletionResultType]::ParameterName, 'Never prompt; fail listing every missing value instead')
            [CompletionResult]::new('-y', '-y', [CompletionResultType]::ParameterName, 'Answer yes to confirmations')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Answer yes to confirmations')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'plat;env;quota' {
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format: a table for people, JSON or YAML documents for programs')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format: a table for people, JSON or YAML documents for programs')
            [CompletionResult]::new('--context', '--context', [CompletionResultType]::ParameterName, 'Context (platform connection) to use instead of the current one')
            [CompletionResult]::new('--account', '--account', [CompletionResultType]::ParameterName, 'Account to act in (default: your own)')
            [CompletionResult]::new('--user', '--user', [CompletionResultType]::ParameterName, 'Platform user to act as on an embedded platform (default: the local operator)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print only data and errors')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print only data and errors')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Say more about what is happening (repeat for more)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Say more about what is happening (repeat for more)')
            [CompletionResult]::new('--no-input', '--no-input', [CompletionResultType]::ParameterName, 'Never prompt; fail listing every missing value instead')
            [CompletionResult]::new('-y', '-y', [CompletionResultType]::ParameterName, 'Answer yes to confirmations')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Answer yes to confirmations')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'plat;env;reap' {
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format: a table for people, JSON or YAML documents for programs')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format: a table for people, JSON or YAML documents for programs')
            [CompletionResult]::new('--context', '--context', [CompletionResultType]::ParameterName, 'Context (platform connection) to use instead of the current one')
            [CompletionResult]::new('--account', '--account', [CompletionResultType]::ParameterName, 'Account to act in (default: your own)')
            [CompletionResult]::new('--user', '--user', [CompletionResultType]::ParameterName, 'Platform user to act as on an embedded platform (default: the local operator)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print only data and errors')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print only data and errors')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Say more about what is happening (repeat for more)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Say more about what is happening (repeat for more)')
            [CompletionResult]::new('--no-input', '--no-input', [CompletionResultType]::ParameterName, 'Never prompt; fail listing every missing value instead')
            [CompletionResult]::new('-y', '-y', [CompletionResultType]::ParameterName, 'Answer yes to confirmations')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Answer yes to confirmations')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'plat;env;approve' {
            [CompletionResult]::new('-m', '-m', [CompletionResultType]::ParameterName, 'Why: shown with the decision in `plat env show`')
            [CompletionResult]::new('--comment', '--comment', [CompletionResultType]::ParameterName, 'Why: shown with the decision in `plat env show`')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format: a table for people, JSON or YAML documents for programs')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format: a table for people, JSON or YAML documents for programs')
            [CompletionResult]::new('--context', '--context', [CompletionResultType]::ParameterName, 'Context (platform connection) to use instead of the current one')
            [CompletionResult]::new('--account', '--account', [CompletionResultType]::ParameterName, 'Account to act in (default: your own)')
            [CompletionResult]::new('--user', '--user', [CompletionResultType]::ParameterName, 'Platform user to act as on an embedded platform (default: the local operator)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print only data and errors')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print only data and errors')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Say more about what is happening (repeat for more)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Say more about what is happening (repeat for more)')
            [CompletionResult]::new('--no-input', '--no-input', [CompletionResultType]::ParameterName, 'Never prompt; fail listing every missing value instead')
            [CompletionResult]::new('-y', '-y', [CompletionResultType]::ParameterName, 'Answer yes to confirmations')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Answer yes to confirmations')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'plat;env;reject' {
            [CompletionResult]::new('-m', '-m', [CompletionResultType]::ParameterName, 'Why: shown with the decision in `plat env show`')
            [CompletionResult]::new('--comment', '--comment', [CompletionResultType]::ParameterName, 'Why: shown with the decision in `plat env show`')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format: a table for people, JSON or YAML documents for programs')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format: a table for people, JSON or YAML documents for programs')
            [CompletionResult]::new('--context', '--context', [CompletionResultType]::ParameterName, 'Context (platform connection) to use instead of the current one')
            [CompletionResult]::new('--account', '--account', [CompletionResultType]::ParameterName, 'Account to act in (default: your own)')
            [CompletionResult]::new('--user', '--user', [CompletionResultType]::ParameterName, 'Platform user to act as on an embedded platform (default: the local operator)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print only data and errors')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print only data and errors')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Say more about what is happening (repeat for more)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Say more about what is happening (repeat for more)')
            [CompletionResult]::new('--no-input', '--no-input', [CompletionResultType]::ParameterName, 'Never prompt; fail listing every missing value instead')
            [CompletionResult]::new('-y', '-y', [CompletionResultType]::ParameterName, 'Answer yes to confirmations')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Answer yes to confirmations')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'plat;env;help' {
            [CompletionResult]::new('template', 'template', [CompletionResultType]::ParameterValue, 'Environment templates: built-in ones and those in PLAT_TEMPLATE_PATH')
            [CompletionResult]::new('up', 'up', [CompletionResultType]::ParameterValue, 'Provision an environment from a template (Terraform/OpenTofu); it is destroyed when it expires')
            [CompletionResult]::new('list', 'list', [CompletionResultType]::ParameterValue, 'List this account''s environments')
            [CompletionResult]::new('show', 'show', [CompletionResultType]::ParameterValue, 'Show an environment: status, expiry, resources, outputs')
            [CompletionResult]::new('logs', 'logs', [CompletionResultType]::ParameterValue, 'Print the Terraform log of an environment''s last run')
            [CompletionResult]::new('outputs', 'outputs', [CompletionResultType]::ParameterValue, 'Print an environment''s outputs (sensitive values redacted)')
            [CompletionResult]::new('extend', 'extend', [CompletionResultType]::ParameterValue, 'Push an environment''s expiry to now + DURATION (capped by the policy''s maximum lifetime)')
            [CompletionResult]::new('down', 'down', [CompletionResultType]::ParameterValue, 'Destroy an environment; an environment already gone is not an error')
            [CompletionResult]::new('quota', 'quota', [CompletionResultType]::ParameterValue, 'How many environments you may still create today')
            [CompletionResult]::new('reap', 'reap', [CompletionResultType]::ParameterValue, 'Destroy every expired environment (for cron or a CI schedule)')
            [CompletionResult]::new('approve', 'approve', [CompletionResultType]::ParameterValue, 'Approve an environment of a protected template; its requester''s `env up` then provisions it')
            [CompletionResult]::new('reject', 'reject', [CompletionResultType]::ParameterValue, 'Reject an environment of a protected template; nothing is provisioned')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'plat;env;help;template' {
            [CompletionResult]::new('list', 'list', [CompletionResultType]::ParameterValue, 'List the templates')
            [CompletionResult]::new('show', 'show', [CompletionResultType]::ParameterValue, 'Show a template''s parameters and lifetime limits')
            break
        }
        'plat;env;help;template;list' {
            break
        }
        'plat;env;help;template;show' {
            break
        }
        'plat;env;help;up' {
            break
        }
        'plat;env;help;list' {
            break
        }
        'plat;env;help;show' {
            break
        }
        'plat;env;help;logs' {
            break
        }
        'plat;env;help;outputs' {
            break
        }
        'plat;env;help;extend' {
            break
        }
        'plat;env;help;down' {
            break
        }
        'plat;env;help;quota' {
            break
        }
        'plat;env;help;reap' {
            break
        }
        'plat;env;help;approve' {
            break
        }
        'plat;env;help;reject' {
            break
        }
        'plat;env;help;help' {
            break
        }
        'plat;policy' {
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format: a table for people, JSON or YAML documents for programs')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format: a table for people, JSON or YAML documents for programs')
            [CompletionResult]::new('--context', '--context', [CompletionResultType]::ParameterName, 'Context (platform connection) to use instead of the current one')
            [CompletionResult]::new('--account', '--account', [CompletionResultType]::ParameterName, 'Account to act in (default: your own)')
            [CompletionResult]::new('--user', '--user', [CompletionResultType]::ParameterName, 'Platform user to act as on an embedded platform (default: the local operator)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print only data and errors')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print only data and errors')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Say more about what is happening (repeat for more)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Say more about what is happening (repeat for more)')
            [CompletionResult]::new('--no-input', '--no-input', [CompletionResultType]::ParameterName, 'Never prompt; fail listing every missing value instead')
            [CompletionResult]::new('-y', '-y', [CompletionResultType]::ParameterName, 'Answer yes to confirmations')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Answer yes to confirmations')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('show', 'show', [CompletionResultType]::ParameterValue, 'Show the environment policy in force for the current account')
            [CompletionResult]::new('set', 'set', [CompletionResultType]::ParameterValue, 'Tighten the environment policy of the current account, or of a tenant it owns')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'plat;policy;show' {
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format: a table for people, JSON or YAML documents for programs')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format: a table for people, JSON or YAML documents for programs')
            [CompletionResult]::new('--context', '--context', [CompletionResultType]::ParameterName, 'Context (platform connection) to use instead of the current one')
            [CompletionResult]::new('--account', '--account', [CompletionResultType]::ParameterName, 'Account to act in (default: your own)')
            [CompletionResult]::new('--user', '--user', [CompletionResultType]::ParameterName, 'Platform user to act as on an embedded platform (default: the local operator)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print only data and errors')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print only data and errors')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Say more about what is happening (repeat for more)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Say more about what is happening (repeat for more)')
            [CompletionResult]::new('--no-input', '--no-input', [CompletionResultType]::ParameterName, 'Never prompt; fail listing every missing value instead')
            [CompletionResult]::new('-y', '-y', [CompletionResultType]::ParameterName, 'Answer yes to confirmations')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Answer yes to confirmations')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'plat;policy;set' {
            [CompletionResult]::new('--tenant', '--tenant', [CompletionResultType]::ParameterName, 'Set the policy of this tenant instead of the current account''s')
            [CompletionResult]::new('--ttl-default', '--ttl-default', [CompletionResultType]::ParameterName, 'Default lifetime of new environments, e.g. 30m')
            [CompletionResult]::new('--ttl-max', '--ttl-max', [CompletionResultType]::ParameterName, 'Maximum lifetime from creation, e.g. 8h')
            [CompletionResult]::new('--envs-per-day', '--envs-per-day', [CompletionResultType]::ParameterName, 'Environments each user may create per day (UTC)')
            [CompletionResult]::new('--require-approval', '--require-approval', [CompletionResultType]::ParameterName, 'Environments of this template need an approver''s decision first (repeatable)')
            [CompletionResult]::new('--no-require-approval', '--no-require-approval', [CompletionResultType]::ParameterName, 'Stop requiring approval for this template here (one set above still holds; repeatable)')
            [CompletionResult]::new('--budget-monthly', '--budget-monthly', [CompletionResultType]::ParameterName, 'Monthly budget of the account and its sub-accounts, in the platform''s currency')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format: a table for people, JSON or YAML documents for programs')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format: a table for people, JSON or YAML documents for programs')
            [CompletionResult]::new('--context', '--context', [CompletionResultType]::ParameterName, 'Context (platform connection) to use instead of the current one')
            [CompletionResult]::new('--account', '--account', [CompletionResultType]::ParameterName, 'Account to act in (default: your own)')
            [CompletionResult]::new('--user', '--user', [CompletionResultType]::ParameterName, 'Platform user to act as on an embedded platform (default: the local operator)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print only data and errors')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print only data and errors')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Say more about what is happening (repeat for more)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Say more about what is happening (repeat for more)')
            [CompletionResult]::new('--no-input', '--no-input', [CompletionResultType]::ParameterName, 'Never prompt; fail listing every missing value instead')
            [CompletionResult]::new('-y', '-y', [CompletionResultType]::ParameterName, 'Answer yes to confirmations')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Answer yes to confirmations')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'plat;policy;help' {
            [CompletionResult]::new('show', 'show', [CompletionResultType]::ParameterValue, 'Show the environment policy in force for the current account')
            [CompletionResult]::new('set', 'set', [CompletionResultType]::ParameterValue, 'Tighten the environment policy of the current account, or of a tenant it owns')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'plat;policy;help;show' {
            break
        }
        'plat;policy;help;set' {
            break
        }
        'plat;policy;help;help' {
            break
        }
        'plat;audit' {
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format: a table for people, JSON or YAML documents for programs')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format: a table for people, JSON or YAML documents for programs')
            [CompletionResult]::new('--context', '--context', [CompletionResultType]::ParameterName, 'Context (platform connection) to use instead of the current one')
            [CompletionResult]::new('--account', '--account', [CompletionResultType]::ParameterName, 'Account to act in (default: your own)')
            [CompletionResult]::new('--user', '--user', [CompletionResultType]::ParameterName, 'Platform user to act as on an embedded platform (default: the local operator)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print only data and errors')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print only data and errors')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Say more about what is happening (repeat for more)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Say more about what is happening (repeat for more)')
            [CompletionResult]::new('--no-input', '--no-input', [CompletionResultType]::ParameterName, 'Never prompt; fail listing every missing value instead')
            [CompletionResult]::new('-y', '-y', [CompletionResultType]::ParameterName, 'Answer yes to confirmations')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Answer yes to confirmations')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('list', 'list', [CompletionResultType]::ParameterValue, 'List who did what in this account and its sub-accounts, newest first (needs audit:read)')
            [CompletionResult]::new('ls', 'ls', [CompletionResultType]::ParameterValue, 'List who did what in this account and its sub-accounts, newest first (needs audit:read)')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'plat;audit;list' {
            [CompletionResult]::new('--since', '--since', [CompletionResultType]::ParameterName, 'Only records this recent: an age such as 24h or 7d')
            [CompletionResult]::new('--actor', '--actor', [CompletionResultType]::ParameterName, 'Only what this user (or service identity) did')
            [CompletionResult]::new('--action', '--action', [CompletionResultType]::ParameterName, 'Only this action, e.g. env.down, account.create, group.update')
            [CompletionResult]::new('--outcome', '--outcome', [CompletionResultType]::ParameterName, 'Only writes that went through, or only refusals')
            [CompletionResult]::new('--limit', '--limit', [CompletionResultType]::ParameterName, 'Show at most this many records')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format: a table for people, JSON or YAML documents for programs')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format: a table for people, JSON or YAML documents for programs')
            [CompletionResult]::new('--context', '--context', [CompletionResultType]::ParameterName, 'Context (platform connection) to use instead of the current one')
            [CompletionResult]::new('--account', '--account', [CompletionResultType]::ParameterName, 'Account to act in (default: your own)')
            [CompletionResult]::new('--user', '--user', [CompletionResultType]::ParameterName, 'Platform user to act as on an embedded platform (default: the local operator)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print only data and errors')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print only data and errors')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Say more about what is happening (repeat for more)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Say more about what is happening (repeat for more)')
            [CompletionResult]::new('--no-input', '--no-input', [CompletionResultType]::ParameterName, 'Never prompt; fail listing every missing value instead')
            [CompletionResult]::new('-y', '-y', [CompletionResultType]::ParameterName, 'Answer yes to confirmations')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Answer yes to confirmations')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'plat;audit;ls' {
            [CompletionResult]::new('--since', '--since', [CompletionResultType]::ParameterName, 'Only records this recent: an age such as 24h or 7d')
            [CompletionResult]::new('--actor', '--actor', [CompletionResultType]::ParameterName, 'Only what this user (or service identity) did')
            [CompletionResult]::new('--action', '--action', [CompletionResultType]::ParameterName, 'Only this action, e.g. env.down, account.create, group.update')
            [CompletionResult]::new('--outcome', '--outcome', [CompletionResultType]::ParameterName, 'Only writes that went through, or only refusals')
            [CompletionResult]::new('--limit', '--limit', [CompletionResultType]::ParameterName, 'Show at most this many records')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format: a table for people, JSON or YAML documents for programs')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format: a table for people, JSON or YAML documents for programs')
            [CompletionResult]::new('--context', '--context', [CompletionResultType]::ParameterName, 'Context (platform connection) to use instead of the current one')
            [CompletionResult]::new('--account', '--account', [CompletionResultType]::ParameterName, 'Account to act in (default: your own)')
            [CompletionResult]::new('--user', '--user', [CompletionResultType]::ParameterName, 'Platform user to act as on an embedded platform (default: the local operator)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print only data and errors')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print only data and errors')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Say more about what is happening (repeat for more)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Say more about what is happening (repeat for more)')
            [CompletionResult]::new('--no-input', '--no-input', [CompletionResultType]::ParameterName, 'Never prompt; fail listing every missing value instead')
            [CompletionResult]::new('-y', '-y', [CompletionResultType]::ParameterName, 'Answer yes to confirmations')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Answer yes to confirmations')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'plat;audit;help' {
            [CompletionResult]::new('list', 'list', [CompletionResultType]::ParameterValue, 'List who did what in this account and its sub-accounts, newest first (needs audit:read)')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'plat;audit;help;list' {
            break
        }
        'plat;audit;help;help' {
            break
        }
        'plat;spend' {
            [CompletionResult]::new('--by', '--by', [CompletionResultType]::ParameterName, 'Sum by account, tenant, template, owner or label:KEY (e.g. label:appgear.io/suite)')
            [CompletionResult]::new('--month', '--month', [CompletionResultType]::ParameterName, 'Month to report, YYYY-MM (UTC; default: this month, up to now)')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format: a table for people, JSON or YAML documents for programs')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format: a table for people, JSON or YAML documents for programs')
            [CompletionResult]::new('--context', '--context', [CompletionResultType]::ParameterName, 'Context (platform connection) to use instead of the current one')
            [CompletionResult]::new('--account', '--account', [CompletionResultType]::ParameterName, 'Account to act in (default: your own)')
            [CompletionResult]::new('--user', '--user', [CompletionResultType]::ParameterName, 'Platform user to act as on an embedded platform (default: the local operator)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print only data and errors')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print only data and errors')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Say more about what is happening (repeat for more)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Say more about what is happening (repeat for more)')
            [CompletionResult]::new('--no-input', '--no-input', [CompletionResultType]::ParameterName, 'Never prompt; fail listing every missing value instead')
            [CompletionResult]::new('-y', '-y', [CompletionResultType]::ParameterName, 'Answer yes to confirmations')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Answer yes to confirmations')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'plat;automation' {
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format: a table for people, JSON or YAML documents for programs')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format: a table for people, JSON or YAML documents for programs')
            [CompletionResult]::new('--context', '--context', [CompletionResultType]::ParameterName, 'Context (platform connection) to use instead of the current one')
            [CompletionResult]::new('--account', '--account', [CompletionResultType]::ParameterName, 'Account to act in (default: your own)')
            [CompletionResult]::new('--user', '--user', [CompletionResultType]::ParameterName, 'Platform user to act as on an embedded platform (default: the local operator)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print only data and errors')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print only data and errors')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Say more about what is happening (repeat for more)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Say more about what is happening (repeat for more)')
            [CompletionResult]::new('--no-input', '--no-input', [CompletionResultType]::ParameterName, 'Never prompt; fail listing every missing value instead')
            [CompletionResult]::new('-y', '-y', [CompletionResultType]::ParameterName, 'Answer yes to confirmations')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Answer yes to confirmations')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('apply', 'apply', [CompletionResultType]::ParameterValue, 'Create or update an automation from a YAML definition (apiVersion: plat.dev/v1, kind: Automation)')
            [CompletionResult]::new('list', 'list', [CompletionResultType]::ParameterValue, 'List this account''s automations')
            [CompletionResult]::new('ls', 'ls', [CompletionResultType]::ParameterValue, 'List this account''s automations')
            [CompletionResult]::new('show', 'show', [CompletionResultType]::ParameterValue, 'Show an automation: trigger, parameters, steps')
            [CompletionResult]::new('delete', 'delete', [CompletionResultType]::ParameterValue, 'Delete an automation (its runs stay on record)')
            [CompletionResult]::new('rm', 'rm', [CompletionResultType]::ParameterValue, 'Delete an automation (its runs stay on record)')
            [CompletionResult]::new('run', 'run', [CompletionResultType]::ParameterValue, 'Run an automation now and follow it; exits 0 when it succeeds, 1 when it fails')
            [CompletionResult]::new('runs', 'runs', [CompletionResultType]::ParameterValue, 'List runs, newest first')
            [CompletionResult]::new('logs', 'logs', [CompletionResultType]::ParameterValue, 'Print the log of a run')
            [CompletionResult]::new('cancel', 'cancel', [CompletionResultType]::ParameterValue, 'Stop a run: its running step is killed')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'plat;automation;apply' {
            [CompletionResult]::new('-f', '-f', [CompletionResultType]::ParameterName, 'Definition file (YAML), or - for stdin')
            [CompletionResult]::new('--file', '--file', [CompletionResultType]::ParameterName, 'Definition file (YAML), or - for stdin')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format: a table for people, JSON or YAML documents for programs')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format: a table for people, JSON or YAML documents for programs')
            [CompletionResult]::new('--context', '--context', [CompletionResultType]::ParameterName, 'Context (platform connection) to use instead of the current one')
            [CompletionResult]::new('--account', '--account', [CompletionResultType]::ParameterName, 'Account to act in (default: your own)')
            [CompletionResult]::new('--user', '--user', [CompletionResultType]::ParameterName, 'Platform user to act as on an embedded platform (default: the local operator)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print only data and errors')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print only data and errors')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Say more about what is happening (repeat for more)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Say more about what is happening (repeat for more)')
            [CompletionResult]::new('--no-input', '--no-input', [CompletionResultType]::ParameterName, 'Never prompt; fail listing every missing value instead')
            [CompletionResult]::new('-y', '-y', [CompletionResultType]::ParameterName, 'Answer yes to confirmations')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Answer yes to confirmations')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'plat;automation;list' {
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format: a table for people, JSON or YAML documents for programs')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format: a table for people, JSON or YAML documents for programs')
            [CompletionResult]::new('--context', '--context', [CompletionResultType]::ParameterName, 'Context (platform connection) to use instead of the current one')
            [CompletionResult]::new('--account', '--account', [CompletionResultType]::ParameterName, 'Account to act in (default: your own)')
            [CompletionResult]::new('--user', '--user', [CompletionResultType]::ParameterName, 'Platform user to act as on an embedded platform (default: the local operator)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print only data and errors')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print only data and errors')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Say more about what is happening (repeat for more)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Say more about what is happening (repeat for more)')
            [CompletionResult]::new('--no-input', '--no-input', [CompletionResultType]::ParameterName, 'Never prompt; fail listing every missing value instead')
            [CompletionResult]::new('-y', '-y', [CompletionResultType]::ParameterName, 'Answer yes to confirmations')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Answer yes to confirmations')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'plat;automation;ls' {
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format: a table for people, JSON or YAML documents for programs')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format: a table for people, JSON or YAML documents for programs')
            [CompletionResult]::new('--context', '--context', [CompletionResultType]::ParameterName, 'Context (platform connection) to use instead of the current one')
            [CompletionResult]::new('--account', '--account', [CompletionResultType]::ParameterName, 'Account to act in (default: your own)')
            [CompletionResult]::new('--user', '--user', [CompletionResultType]::ParameterName, 'Platform user to act as on an embedded platform (default: the local operator)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print only data and errors')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print only data and errors')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Say more about what is happening (repeat for more)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Say more about what is happening (repeat for more)')
            [CompletionResult]::new('--no-input', '--no-input', [CompletionResultType]::ParameterName, 'Never prompt; fail listing every missing value instead')
            [CompletionResult]::new('-y', '-y', [CompletionResultType]::ParameterName, 'Answer yes to confirmations')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Answer yes to confirmations')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'plat;automation;show' {
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format: a table for people, JSON or YAML documents for programs')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format: a table for people, JSON or YAML documents for programs')
            [CompletionResult]::new('--context', '--context', [CompletionResultType]::ParameterName, 'Context (platform connection) to use instead of the current one')
            [CompletionResult]::new('--account', '--account', [CompletionResultType]::ParameterName, 'Account to act in (default: your own)')
            [CompletionResult]::new('--user', '--user', [CompletionResultType]::ParameterName, 'Platform user to act as on an embedded platform (default: the local operator)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print only data and errors')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print only data and errors')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Say more about what is happening (repeat for more)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Say more about what is happening (repeat for more)')
            [CompletionResult]::new('--no-input', '--no-input', [CompletionResultType]::ParameterName, 'Never prompt; fail listing every missing value instead')
            [CompletionResult]::new('-y', '-y', [CompletionResultType]::ParameterName, 'Answer yes to confirmations')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Answer yes to confirmations')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'plat;automation;delete' {
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format: a table for people, JSON or YAML documents for programs')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format: a table for people, JSON or YAML documents for programs')
            [CompletionResult]::new('--context', '--context', [CompletionResultType]::ParameterName, 'Context (platform connection) to use instead of the current one')
            [CompletionResult]::new('--account', '--account', [CompletionResultType]::ParameterName, 'Account to act in (default: your own)')
            [CompletionResult]::new('--user', '--user', [CompletionResultType]::ParameterName, 'Platform user to act as on an embedded platform (default: the local operator)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print only data and errors')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print only data and errors')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Say more about what is happening (repeat for more)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Say more about what is happening (repeat for more)')
            [CompletionResult]::new('--no-input', '--no-input', [CompletionResultType]::ParameterName, 'Never prompt; fail listing every missing value instead')
            [CompletionResult]::new('-y', '-y', [CompletionResultType]::ParameterName, 'Answer yes to confirmations')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Answer yes to confirmations')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'plat;automation;rm' {
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format: a table for people, JSON or YAML documents for programs')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format: a table for people, JSON or YAML documents for programs')
            [CompletionResult]::new('--context', '--context', [CompletionResultType]::ParameterName, 'Context (platform connection) to use instead of the current one')
            [CompletionResult]::new('--account', '--account', [CompletionResultType]::ParameterName, 'Account to act in (default: your own)')
            [CompletionResult]::new('--user', '--user', [CompletionResultType]::ParameterName, 'Platform user to act as on an embedded platform (default: the local operator)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print only data and errors')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print only data and errors')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Say more about what is happening (repeat for more)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Say more about what is happening (repeat for more)')
            [CompletionResult]::new('--no-input', '--no-input', [CompletionResultType]::ParameterName, 'Never prompt; fail listing every missing value instead')
            [CompletionResult]::new('-y', '-y', [CompletionResultType]::ParameterName, 'Answer yes to confirmations')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Answer yes to confirmations')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'plat;automation;run' {
            [CompletionResult]::new('-p', '-p', [CompletionResultType]::ParameterName, 'Parameter value (repeatable)')
            [CompletionResult]::new('--param', '--param', [CompletionResultType]::ParameterName, 'Parameter value (repeatable)')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format: a table for people, JSON or YAML documents for programs')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format: a table for people, JSON or YAML documents for programs')
            [CompletionResult]::new('--context', '--context', [CompletionResultType]::ParameterName, 'Context (platform connection) to use instead of the current one')
            [CompletionResult]::new('--account', '--account', [CompletionResultType]::ParameterName, 'Account to act in (default: your own)')
            [CompletionResult]::new('--user', '--user', [CompletionResultType]::ParameterName, 'Platform user to act as on an embedded platform (default: the local operator)')
            [CompletionResult]::new('--wait', '--wait', [CompletionResultType]::ParameterName, 'Wait for the run to end and exit with its result (the default)')
            [CompletionResult]::new('--detach', '--detach', [CompletionResultType]::ParameterName, 'Queue the run for the server''s workers and return at once (needs `plat server`)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print only data and errors')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print only data and errors')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Say more about what is happening (repeat for more)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Say more about what is happening (repeat for more)')
            [CompletionResult]::new('--no-input', '--no-input', [CompletionResultType]::ParameterName, 'Never prompt; fail listing every missing value instead')
            [CompletionResult]::new('-y', '-y', [CompletionResultType]::ParameterName, 'Answer yes to confirmations')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Answer yes to confirmations')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'plat;automation;runs' {
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format: a table for people, JSON or YAML documents for programs')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format: a table for people, JSON or YAML documents for programs')
            [CompletionResult]::new('--context', '--context', [CompletionResultType]::ParameterName, 'Context (platform connection) to use instead of the current one')
            [CompletionResult]::new('--account', '--account', [CompletionResultType]::ParameterName, 'Account to act in (default: your own)')
            [CompletionResult]::new('--user', '--user', [CompletionResultType]::ParameterName, 'Platform user to act as on an embedded platform (default: the local operator)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print only data and errors')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print only data and errors')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Say more about what is happening (repeat for more)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Say more about what is happening (repeat for more)')
            [CompletionResult]::new('--no-input', '--no-input', [CompletionResultType]::ParameterName, 'Never prompt; fail listing every missing value instead')
            [CompletionResult]::new('-y', '-y', [CompletionResultType]::ParameterName, 'Answer yes to confirmations')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Answer yes to confirmations')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'plat;automation;logs' {
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format: a table for people, JSON or YAML documents for programs')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format: a table for people, JSON or YAML documents for programs')
            [CompletionResult]::new('--context', '--context', [CompletionResultType]::ParameterName, 'Context (platform connection) to use instead of the current one')
            [CompletionResult]::new('--account', '--account', [CompletionResultType]::ParameterName, 'Account to act in (default: your own)')
            [CompletionResult]::new('--user', '--user', [CompletionResultType]::ParameterName, 'Platform user to act as on an embedded platform (default: the local operator)')
            [CompletionResult]::new('-f', '-f', [CompletionResultType]::ParameterName, 'Keep printing as the log grows, until the run ends')
            [CompletionResult]::new('--follow', '--follow', [CompletionResultType]::ParameterName, 'Keep printing as the log grows, until the run ends')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print only data and errors')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print only data and errors')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Say more about what is happening (repeat for more)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Say more about what is happening (repeat for more)')
            [CompletionResult]::new('--no-input', '--no-input', [CompletionResultType]::ParameterName, 'Never prompt; fail listing every missing value instead')
            [CompletionResult]::new('-y', '-y', [CompletionResultType]::ParameterName, 'Answer yes to confirmations')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Answer yes to confirmations')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'plat;automation;cancel' {
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format: a table for people, JSON or YAML documents for programs')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format: a table for people, JSON or YAML documents for programs')
            [CompletionResult]::new('--context', '--context', [CompletionResultType]::ParameterName, 'Context (platform connection) to use instead of the current one')
            [CompletionResult]::new('--account', '--account', [CompletionResultType]::ParameterName, 'Account to act in (default: your own)')
            [CompletionResult]::new('--user', '--user', [CompletionResultType]::ParameterName, 'Platform user to act as on an embedded platform (default: the local operator)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print only data and errors')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print only data and errors')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Say more about what is happening (repeat for more)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Say more about what is happening (repeat for more)')
            [CompletionResult]::new('--no-input', '--no-input', [CompletionResultType]::ParameterName, 'Never prompt; fail listing every missing value instead')
            [CompletionResult]::new('-y', '-y', [CompletionResultType]::ParameterName, 'Answer yes to confirmations')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Answer yes to confirmations')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'plat;automation;help' {
            [CompletionResult]::new('apply', 'apply', [CompletionResultType]::ParameterValue, 'Create or update an automation from a YAML definition (apiVersion: plat.dev/v1, kind: Automation)')
            [CompletionResult]::new('list', 'list', [CompletionResultType]::ParameterValue, 'List this account''s automations')
            [CompletionResult]::new('show', 'show', [CompletionResultType]::ParameterValue, 'Show an automation: trigger, parameters, steps')
            [CompletionResult]::new('delete', 'delete', [CompletionResultType]::ParameterValue, 'Delete an automation (its runs stay on record)')
            [CompletionResult]::new('run', 'run', [CompletionResultType]::ParameterValue, 'Run an automation now and follow it; exits 0 when it succeeds, 1 when it fails')
            [CompletionResult]::new('runs', 'runs', [CompletionResultType]::ParameterValue, 'List runs, newest first')
            [CompletionResult]::new('logs', 'logs', [CompletionResultType]::ParameterValue, 'Print the log of a run')
            [CompletionResult]::new('cancel', 'cancel', [CompletionResultType]::ParameterValue, 'Stop a run: its running step is killed')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'plat;automation;help;apply' {
            break
        }
        'plat;automation;help;list' {
            break
        }
        'plat;automation;help;show' {
            break
        }
        'plat;automation;help;delete' {
            break
        }
        'plat;automation;help;run' {
            break
        }
        'plat;automation;help;runs' {
            break
        }
        'plat;automation;help;logs' {
            break
        }
        'plat;automation;help;cancel' {
            break
        }
        'plat;automation;help;help' {
            break
        }
        'plat;scan' {
            [CompletionResult]::new('--tf-state', '--tf-state', [CompletionResultType]::ParameterName, 'Terraform state: `terraform show -json` output or a raw .tfstate (''-'' reads stdin)')
            [CompletionResult]::new('--env', '--env', [CompletionResultType]::ParameterName, 'Scan the Terraform state of this environment (see `plat env list`)')
            [CompletionResult]::new('--kube-context', '--kube-context', [CompletionResultType]::ParameterName, 'Kubeconfig context to scan instead of the current one')
            [CompletionResult]::new('--namespace', '--namespace', [CompletionResultType]::ParameterName, 'Scan only this namespace of the cluster (cluster-scoped kinds are then skipped)')
            [CompletionResult]::new('--format', '--format', [CompletionResultType]::ParameterName, 'Report format (default: the global -o)')
            [CompletionResult]::new('--fail-on', '--fail-on', [CompletionResultType]::ParameterName, 'Lowest severity that makes the command exit 3')
            [CompletionResult]::new('--policy', '--policy', [CompletionResultType]::ParameterName, 'Directory of Rego policies in conftest''s layout (`package main`, deny/warn rules); repeatable (default: .plat/policies/ in the current directory, if present)')
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'Scan configuration (default: .plat/scan.yaml in the current directory, if present)')
            [CompletionResult]::new('--publish-name', '--publish-name', [CompletionResultType]::ParameterName, 'Name to publish under (default: env-NAME, cluster-CONTEXT or the directory''s name)')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format: a table for people, JSON or YAML documents for programs')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format: a table for people, JSON or YAML documents for programs')
            [CompletionResult]::new('--context', '--context', [CompletionResultType]::ParameterName, 'Context (platform connection) to use instead of the current one')
            [CompletionResult]::new('--account', '--account', [CompletionResultType]::ParameterName, 'Account to act in (default: your own)')
            [CompletionResult]::new('--user', '--user', [CompletionResultType]::ParameterName, 'Platform user to act as on an embedded platform (default: the local operator)')
            [CompletionResult]::new('--kube', '--kube', [CompletionResultType]::ParameterName, 'Scan the live cluster of the kubeconfig''s current context')
            [CompletionResult]::new('--skip-unparsable', '--skip-unparsable', [CompletionResultType]::ParameterName, 'Only warn about files that cannot be read or parsed, instead of reporting each as a PLAT016 error finding')
            [CompletionResult]::new('--publish', '--publish', [CompletionResultType]::ParameterName, 'Attach the inventory to the account (and to the environment with --env) in the platform, where `plat scan list` and the Backstage catalog (/api/v1/catalog) find it; a re-scan of the same source replaces it')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print only data and errors')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print only data and errors')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Say more about what is happening (repeat for more)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Say more about what is happening (repeat for more)')
            [CompletionResult]::new('--no-input', '--no-input', [CompletionResultType]::ParameterName, 'Never prompt; fail listing every missing value instead')
            [CompletionResult]::new('-y', '-y', [CompletionResultType]::ParameterName, 'Answer yes to confirmations')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Answer yes to confirmations')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('rules', 'rules', [CompletionResultType]::ParameterValue, 'List the rule catalogue: id, name, default severity, target and how to fix, then the rules of the Rego policies (--policy DIR, else .plat/policies/)')
            [CompletionResult]::new('list', 'list', [CompletionResultType]::ParameterValue, 'List the inventories this account has published with --publish')
            [CompletionResult]::new('show', 'show', [CompletionResultType]::ParameterValue, 'Show a published inventory: summary and findings, or its Backstage entities')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'plat;scan;rules' {
            [CompletionResult]::new('--policy', '--policy', [CompletionResultType]::ParameterName, 'Directory of Rego policies to list too (repeatable; default: .plat/policies/)')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format: a table for people, JSON or YAML documents for programs')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format: a table for people, JSON or YAML documents for programs')
            [CompletionResult]::new('--context', '--context', [CompletionResultType]::ParameterName, 'Context (platform connection) to use instead of the current one')
            [CompletionResult]::new('--account', '--account', [CompletionResultType]::ParameterName, 'Account to act in (default: your own)')
            [CompletionResult]::new('--user', '--user', [CompletionResultType]::ParameterName, 'Platform user to act as on an embedded platform (default: the local operator)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print only data and errors')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print only data and errors')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Say more about what is happening (repeat for more)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Say more about what is happening (repeat for more)')
            [CompletionResult]::new('--no-input', '--no-input', [CompletionResultType]::ParameterName, 'Never prompt; fail listing every missing value instead')
            [CompletionResult]::new('-y', '-y', [CompletionResultType]::ParameterName, 'Answer yes to confirmations')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Answer yes to confirmations')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'plat;scan;list' {
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format: a table for people, JSON or YAML documents for programs')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format: a table for people, JSON or YAML documents for programs')
            [CompletionResult]::new('--context', '--context', [CompletionResultType]::ParameterName, 'Context (platform connection) to use instead of the current one')
            [CompletionResult]::new('--account', '--account', [CompletionResultType]::ParameterName, 'Account to act in (default: your own)')
            [CompletionResult]::new('--user', '--user', [CompletionResultType]::ParameterName, 'Platform user to act as on an embedded platform (default: the local operator)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print only data and errors')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print only data and errors')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Say more about what is happening (repeat for more)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Say more about what is happening (repeat for more)')
            [CompletionResult]::new('--no-input', '--no-input', [CompletionResultType]::ParameterName, 'Never prompt; fail listing every missing value instead')
            [CompletionResult]::new('-y', '-y', [CompletionResultType]::ParameterName, 'Answer yes to confirmations')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Answer yes to confirmations')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'plat;scan;show' {
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format: a table for people, JSON or YAML documents for programs')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format: a table for people, JSON or YAML documents for programs')
            [CompletionResult]::new('--context', '--context', [CompletionResultType]::ParameterName, 'Context (platform connection) to use instead of the current one')
            [CompletionResult]::new('--account', '--account', [CompletionResultType]::ParameterName, 'Account to act in (default: your own)')
            [CompletionResult]::new('--user', '--user', [CompletionResultType]::ParameterName, 'Platform user to act as on an embedded platform (default: the local operator)')
            [CompletionResult]::new('--entities', '--entities', [CompletionResultType]::ParameterName, 'Print the Backstage catalog entities (multi-document YAML) instead')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print only data and errors')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print only data and errors')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Say more about what is happening (repeat for more)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Say more about what is happening (repeat for more)')
            [CompletionResult]::new('--no-input', '--no-input', [CompletionResultType]::ParameterName, 'Never prompt; fail listing every missing value instead')
            [CompletionResult]::new('-y', '-y', [CompletionResultType]::ParameterName, 'Answer yes to confirmations')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Answer yes to confirmations')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'plat;scan;help' {
            [CompletionResult]::new('rules', 'rules', [CompletionResultType]::ParameterValue, 'List the rule catalogue: id, name, default severity, target and how to fix, then the rules of the Rego policies (--policy DIR, else .plat/policies/)')
            [CompletionResult]::new('list', 'list', [CompletionResultType]::ParameterValue, 'List the inventories this account has published with --publish')
            [CompletionResult]::new('show', 'show', [CompletionResultType]::ParameterValue, 'Show a published inventory: summary and findings, or its Backstage entities')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'plat;scan;help;rules' {
            break
        }
        'plat;scan;help;list' {
            break
        }
        'plat;scan;help;show' {
            break
        }
        'plat;scan;help;help' {
            break
        }
        'plat;scaffold' {
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format: a table for people, JSON or YAML documents for programs')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format: a table for people, JSON or YAML documents for programs')
            [CompletionResult]::new('--context', '--context', [CompletionResultType]::ParameterName, 'Context (platform connection) to use instead of the current one')
            [CompletionResult]::new('--account', '--account', [CompletionResultType]::ParameterName, 'Account to act in (default: your own)')
            [CompletionResult]::new('--user', '--user', [CompletionResultType]::ParameterName, 'Platform user to act as on an embedded platform (default: the local operator)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print only data and errors')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print only data and errors')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Say more about what is happening (repeat for more)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Say more about what is happening (repeat for more)')
            [CompletionResult]::new('--no-input', '--no-input', [CompletionResultType]::ParameterName, 'Never prompt; fail listing every missing value instead')
            [CompletionResult]::new('-y', '-y', [CompletionResultType]::ParameterName, 'Answer yes to confirmations')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Answer yes to confirmations')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('list', 'list', [CompletionResultType]::ParameterValue, 'List the templates: built-in ones and those in PLAT_TEMPLATE_PATH')
            [CompletionResult]::new('ls', 'ls', [CompletionResultType]::ParameterValue, 'List the templates: built-in ones and those in PLAT_TEMPLATE_PATH')
            [CompletionResult]::new('show', 'show', [CompletionResultType]::ParameterValue, 'Show a template''s parameters: title, type, required, default and choices')
            [CompletionResult]::new('run', 'run', [CompletionResultType]::ParameterValue, 'Create a project from a template, offline; publish it with git when the template says so')
            [CompletionResult]::new('update', 'update', [CompletionResultType]::ParameterValue, 'Bring a generated project up to date with its template (three-way merge; exit 3 on conflicts)')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'plat;scaffold;list' {
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format: a table for people, JSON or YAML documents for programs')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format: a table for people, JSON or YAML documents for programs')
            [CompletionResult]::new('--context', '--context', [CompletionResultType]::ParameterName, 'Context (platform connection) to use instead of the current one')
            [CompletionResult]::new('--account', '--account', [CompletionResultType]::ParameterName, 'Account to act in (default: your own)')
            [CompletionResult]::new('--user', '--user', [CompletionResultType]::ParameterName, 'Platform user to act as on an embedded platform (default: the local operator)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print only data and errors')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print only data and errors')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Say more about what is happening (repeat for more)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Say more about what is happening (repeat for more)')
            [CompletionResult]::new('--no-input', '--no-input', [CompletionResultType]::ParameterName, 'Never prompt; fail listing every missing value instead')
            [CompletionResult]::new('-y', '-y', [CompletionResultType]::ParameterName, 'Answer yes to confirmations')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Answer yes to confirmations')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'plat;scaffold;ls' {
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format: a table for people, JSON or YAML documents for programs')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format: a table for people, JSON or YAML documents for programs')
            [CompletionResult]::new('--context', '--context', [CompletionResultType]::ParameterName, 'Context (platform connection) to use instead of the current one')
            [CompletionResult]::new('--account', '--account', [CompletionResultType]::ParameterName, 'Account to act in (default: your own)')
            [CompletionResult]::new('--user', '--user', [CompletionResultType]::ParameterName, 'Platform user to act as on an embedded platform (default: the local operator)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print only data and errors')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print only data and errors')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Say more about what is happening (repeat for more)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Say more about what is happening (repeat for more)')
            [CompletionResult]::new('--no-input', '--no-input', [CompletionResultType]::ParameterName, 'Never prompt; fail listing every missing value instead')
            [CompletionResult]::new('-y', '-y', [CompletionResultType]::ParameterName, 'Answer yes to confirmations')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Answer yes to confirmations')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'plat;scaffold;show' {
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format: a table for people, JSON or YAML documents for programs')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format: a table for people, JSON or YAML documents for programs')
            [CompletionResult]::new('--context', '--context', [CompletionResultType]::ParameterName, 'Context (platform connection) to use instead of the current one')
            [CompletionResult]::new('--account', '--account', [CompletionResultType]::ParameterName, 'Account to act in (default: your own)')
            [CompletionResult]::new('--user', '--user', [CompletionResultType]::ParameterName, 'Platform user to act as on an embedded platform (default: the local operator)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print only data and errors')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print only data and errors')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Say more about what is happening (repeat for more)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Say more about what is happening (repeat for more)')
            [CompletionResult]::new('--no-input', '--no-input', [CompletionResultType]::ParameterName, 'Never prompt; fail listing every missing value instead')
            [CompletionResult]::new('-y', '-y', [CompletionResultType]::ParameterName, 'Answer yes to confirmations')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Answer yes to confirmations')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'plat;scaffold;run' {
            [CompletionResult]::new('-s', '-s', [CompletionResultType]::ParameterName, 'Template parameter (repeatable; wins over --values)')
            [CompletionResult]::new('--set', '--set', [CompletionResultType]::ParameterName, 'Template parameter (repeatable; wins over --values)')
            [CompletionResult]::new('-f', '-f', [CompletionResultType]::ParameterName, 'YAML file of template parameters (repeatable; later files win)')
            [CompletionResult]::new('--values', '--values', [CompletionResultType]::ParameterName, 'YAML file of template parameters (repeatable; later files win)')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format: a table for people, JSON or YAML documents for programs')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format: a table for people, JSON or YAML documents for programs')
            [CompletionResult]::new('--context', '--context', [CompletionResultType]::ParameterName, 'Context (platform connection) to use instead of the current one')
            [CompletionResult]::new('--account', '--account', [CompletionResultType]::ParameterName, 'Account to act in (default: your own)')
            [CompletionResult]::new('--user', '--user', [CompletionResultType]::ParameterName, 'Platform user to act as on an embedded platform (default: the local operator)')
            [CompletionResult]::new('--dry-run', '--dry-run', [CompletionResultType]::ParameterName, 'List the files that would be written; write nothing and call no remote')
            [CompletionResult]::new('--no-git', '--no-git', [CompletionResultType]::ParameterName, 'Skip the template''s publish:* steps (no repository is created or pushed)')
            [CompletionResult]::new('--trust', '--trust', [CompletionResultType]::ParameterName, 'Run the template''s hooks (shell commands); review the template first')
            [CompletionResult]::new('--force', '--force', [CompletionResultType]::ParameterName, 'Write into a target directory that is not empty')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print only data and errors')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print only data and errors')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Say more about what is happening (repeat for more)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Say more about what is happening (repeat for more)')
            [CompletionResult]::new('--no-input', '--no-input', [CompletionResultType]::ParameterName, 'Never prompt; fail listing every missing value instead')
            [CompletionResult]::new('-y', '-y', [CompletionResultType]::ParameterName, 'Answer yes to confirmations')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Answer yes to confirmations')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'plat;scaffold;update' {
            [CompletionResult]::new('-s', '-s', [CompletionResultType]::ParameterName, 'Change an answer (repeatable); the others come from .plat-answers.yml')
            [CompletionResult]::new('--set', '--set', [CompletionResultType]::ParameterName, 'Change an answer (repeatable); the others come from .plat-answers.yml')
            [CompletionResult]::new('--conflict', '--conflict', [CompletionResultType]::ParameterName, 'How to leave conflicting changes')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format: a table for people, JSON or YAML documents for programs')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format: a table for people, JSON or YAML documents for programs')
            [CompletionResult]::new('--context', '--context', [CompletionResultType]::ParameterName, 'Context (platform connection) to use instead of the current one')
            [CompletionResult]::new('--account', '--account', [CompletionResultType]::ParameterName, 'Account to act in (default: your own)')
            [CompletionResult]::new('--user', '--user', [CompletionResultType]::ParameterName, 'Platform user to act as on an embedded platform (default: the local operator)')
            [CompletionResult]::new('--dry-run', '--dry-run', [CompletionResultType]::ParameterName, 'Show what would change; write nothing')
            [CompletionResult]::new('--trust', '--trust', [CompletionResultType]::ParameterName, 'Run the template''s hooks while re-rendering')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print only data and errors')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print only data and errors')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Say more about what is happening (repeat for more)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Say more about what is happening (repeat for more)')
            [CompletionResult]::new('--no-input', '--no-input', [CompletionResultType]::ParameterName, 'Never prompt; fail listing every missing value instead')
            [CompletionResult]::new('-y', '-y', [CompletionResultType]::ParameterName, 'Answer yes to confirmations')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Answer yes to confirmations')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'plat;scaffold;help' {
            [CompletionResult]::new('list', 'list', [CompletionResultType]::ParameterValue, 'List the templates: built-in ones and those in PLAT_TEMPLATE_PATH')
            [CompletionResult]::new('show', 'show', [CompletionResultType]::ParameterValue, 'Show a template''s parameters: title, type, required, default and choices')
            [CompletionResult]::new('run', 'run', [CompletionResultType]::ParameterValue, 'Create a project from a template, offline; publish it with git when the template says so')
            [CompletionResult]::new('update', 'update', [CompletionResultType]::ParameterValue, 'Bring a generated project up to date with its template (three-way merge; exit 3 on conflicts)')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'plat;scaffold;help;list' {
            break
        }
        'plat;scaffold;help;show' {
            break
        }
        'plat;scaffold;help;run' {
            break
        }
        'plat;scaffold;help;update' {
            break
        }
        'plat;scaffold;help;help' {
            break
        }
        'plat;login' {
            [CompletionResult]::new('--server', '--server', [CompletionResultType]::ParameterName, 'URL of the plat server (default: the current context''s server)')
            [CompletionResult]::new('--audience', '--audience', [CompletionResultType]::ParameterName, 'The audience of the job''s ID token, the trust rule''s --audience (default: plat; only for a GitHub Actions login)')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format: a table for people, JSON or YAML documents for programs')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format: a table for people, JSON or YAML documents for programs')
            [CompletionResult]::new('--context', '--context', [CompletionResultType]::ParameterName, 'Context (platform connection) to use instead of the current one')
            [CompletionResult]::new('--account', '--account', [CompletionResultType]::ParameterName, 'Account to act in (default: your own)')
            [CompletionResult]::new('--user', '--user', [CompletionResultType]::ParameterName, 'Platform user to act as on an embedded platform (default: the local operator)')
            [CompletionResult]::new('--insecure-storage', '--insecure-storage', [CompletionResultType]::ParameterName, 'Keep the refresh token in a file readable only by you instead of the OS keyring')
            [CompletionResult]::new('--with-token', '--with-token', [CompletionResultType]::ParameterName, 'Read an access token from standard input instead of running the device flow')
            [CompletionResult]::new('--github-actions', '--github-actions', [CompletionResultType]::ParameterName, 'Log in as this GitHub Actions job with its OIDC ID token (the job needs `permissions: id-token: write`, the server a `plat trust` rule). No token is stored: every later plat command of the job asks the runner for a fresh one. The default in a job that may request ID tokens, unless --with-token is given')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print only data and errors')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print only data and errors')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Say more about what is happening (repeat for more)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Say more about what is happening (repeat for more)')
            [CompletionResult]::new('--no-input', '--no-input', [CompletionResultType]::ParameterName, 'Never prompt; fail listing every missing value instead')
            [CompletionResult]::new('-y', '-y', [CompletionResultType]::ParameterName, 'Answer yes to confirmations')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Answer yes to confirmations')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'plat;logout' {
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format: a table for people, JSON or YAML documents for programs')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format: a table for people, JSON or YAML documents for programs')
            [CompletionResult]::new('--context', '--context', [CompletionResultType]::ParameterName, 'Context (platform connection) to use instead of the current one')
            [CompletionResult]::new('--account', '--account', [CompletionResultType]::ParameterName, 'Account to act in (default: your own)')
            [CompletionResult]::new('--user', '--user', [CompletionResultType]::ParameterName, 'Platform user to act as on an embedded platform (default: the local operator)')
            [CompletionResult]::new('--no-revoke', '--no-revoke', [CompletionResultType]::ParameterName, 'Only forget the stored tokens; do not ask the identity provider to revoke them')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print only data and errors')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print only data and errors')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Say more about what is happening (repeat for more)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Say more about what is happening (repeat for more)')
            [CompletionResult]::new('--no-input', '--no-input', [CompletionResultType]::ParameterName, 'Never prompt; fail listing every missing value instead')
            [CompletionResult]::new('-y', '-y', [CompletionResultType]::ParameterName, 'Answer yes to confirmations')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Answer yes to confirmations')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'plat;auth' {
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format: a table for people, JSON or YAML documents for programs')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format: a table for people, JSON or YAML documents for programs')
            [CompletionResult]::new('--context', '--context', [CompletionResultType]::ParameterName, 'Context (platform connection) to use instead of the current one')
            [CompletionResult]::new('--account', '--account', [CompletionResultType]::ParameterName, 'Account to act in (default: your own)')
            [CompletionResult]::new('--user', '--user', [CompletionResultType]::ParameterName, 'Platform user to act as on an embedded platform (default: the local operator)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print only data and errors')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print only data and errors')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Say more about what is happening (repeat for more)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Say more about what is happening (repeat for more)')
            [CompletionResult]::new('--no-input', '--no-input', [CompletionResultType]::ParameterName, 'Never prompt; fail listing every missing value instead')
            [CompletionResult]::new('-y', '-y', [CompletionResultType]::ParameterName, 'Answer yes to confirmations')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Answer yes to confirmations')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('status', 'status', [CompletionResultType]::ParameterValue, 'Show whether you are logged in to the current context, as whom, until when')
            [CompletionResult]::new('token', 'token', [CompletionResultType]::ParameterValue, 'Print a valid access token (refreshed if needed) for use in scripts')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'plat;auth;status' {
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format: a table for people, JSON or YAML documents for programs')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format: a table for people, JSON or YAML documents for programs')
            [CompletionResult]::new('--context', '--context', [CompletionResultType]::ParameterName, 'Context (platform connection) to use instead of the current one')
            [CompletionResult]::new('--account', '--account', [CompletionResultType]::ParameterName, 'Account to act in (default: your own)')
            [CompletionResult]::new('--user', '--user', [CompletionResultType]::ParameterName, 'Platform user to act as on an embedded platform (default: the local operator)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print only data and errors')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print only data and errors')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Say more about what is happening (repeat for more)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Say more about what is happening (repeat for more)')
            [CompletionResult]::new('--no-input', '--no-input', [CompletionResultType]::ParameterName, 'Never prompt; fail listing every missing value instead')
            [CompletionResult]::new('-y', '-y', [CompletionResultType]::ParameterName, 'Answer yes to confirmations')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Answer yes to confirmations')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'plat;auth;token' {
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format: a table for people, JSON or YAML documents for programs')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format: a table for people, JSON or YAML documents for programs')
            [CompletionResult]::new('--context', '--context', [CompletionResultType]::ParameterName, 'Context (platform connection) to use instead of the current one')
            [CompletionResult]::new('--account', '--account', [CompletionResultType]::ParameterName, 'Account to act in (default: your own)')
            [CompletionResult]::new('--user', '--user', [CompletionResultType]::ParameterName, 'Platform user to act as on an embedded platform (default: the local operator)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print only data and errors')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print only data and errors')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Say more about what is happening (repeat for more)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Say more about what is happening (repeat for more)')
            [CompletionResult]::new('--no-input', '--no-input', [CompletionResultType]::ParameterName, 'Never prompt; fail listing every missing value instead')
            [CompletionResult]::new('-y', '-y', [CompletionResultType]::ParameterName, 'Answer yes to confirmations')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Answer yes to confirmations')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'plat;auth;help' {
            [CompletionResult]::new('status', 'status', [CompletionResultType]::ParameterValue, 'Show whether you are logged in to the current context, as whom, until when')
            [CompletionResult]::new('token', 'token', [CompletionResultType]::ParameterValue, 'Print a valid access token (refreshed if needed) for use in scripts')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'plat;auth;help;status' {
            break
        }
        'plat;auth;help;token' {
            break
        }
        'plat;auth;help;help' {
            break
        }
        'plat;server' {
            [CompletionResult]::new('--listen', '--listen', [CompletionResultType]::ParameterName, 'Address to listen on')
            [CompletionResult]::new('--database-url', '--database-url', [CompletionResultType]::ParameterName, 'Database: postgres://USER@HOST:PORT/DB or sqlite://PATH (default: SQLite in the data dir)')
            [CompletionResult]::new('--oidc-issuer', '--oidc-issuer', [CompletionResultType]::ParameterName, 'OpenID Connect issuer whose tokens the server accepts')
            [CompletionResult]::new('--oidc-client-id', '--oidc-client-id', [CompletionResultType]::ParameterName, 'OAuth client id the CLI uses for the device flow')
            [CompletionResult]::new('--oidc-audience', '--oidc-audience', [CompletionResultType]::ParameterName, 'Audience access tokens must carry (default: the client id)')
            [CompletionResult]::new('--oidc-username-claim', '--oidc-username-claim', [CompletionResultType]::ParameterName, 'Access-token claim that names the user, e.g. upn, preferred_username, sub: its value (an e-mail) links a new IdP subject to the platform user with that e-mail, so tokens need no `email` claim; a claim missing from a token is asked of the IdP''s userinfo endpoint')
            [CompletionResult]::new('--oidc-groups-claim', '--oidc-groups-claim', [CompletionResultType]::ParameterName, 'Access-token claim listing the user''s IdP groups, e.g. groups, or a dotted path such as Keycloak''s realm_access.roles. Account admins map them to platform groups (`plat group link-idp`); they are re-read from every token, never stored. Unset: groups are ignored')
            [CompletionResult]::new('--bootstrap-admin', '--bootstrap-admin', [CompletionResultType]::ParameterName, 'E-mail of the user who owns the master account')
            [CompletionResult]::new('--master-account', '--master-account', [CompletionResultType]::ParameterName, 'Slug of the master account')
            [CompletionResult]::new('--default-domain', '--default-domain', [CompletionResultType]::ParameterName, 'Domain of the default tenant')
            [CompletionResult]::new('--amqp-url', '--amqp-url', [CompletionResultType]::ParameterName, 'RabbitMQ URL (amqp://user:pass@host:5672/vhost): consume the queues of queue-triggered automations (one run per message), and hand queued runs to workers through the broker')
            [CompletionResult]::new('--amqp-runs-queue', '--amqp-runs-queue', [CompletionResultType]::ParameterName, 'RabbitMQ queue queued runs are handed to workers through; give each platform sharing a broker its own')
            [CompletionResult]::new('--workers', '--workers', [CompletionResultType]::ParameterName, 'Automation workers per replica')
            [CompletionResult]::new('--run-lease-seconds', '--run-lease-seconds', [CompletionResultType]::ParameterName, 'Seconds a worker holds a run between renewals; a run whose worker died is reclaimed after this')
            [CompletionResult]::new('--run-max-attempts', '--run-max-attempts', [CompletionResultType]::ParameterName, 'Attempts a run gets when its worker dies before it is marked failed')
            [CompletionResult]::new('--db-acquire-timeout-ms', '--db-acquire-timeout-ms', [CompletionResultType]::ParameterName, 'Milliseconds a request waits for a database connection before failing with 503')
            [CompletionResult]::new('--db-statement-timeout-ms', '--db-statement-timeout-ms', [CompletionResultType]::ParameterName, 'Milliseconds one database statement may run (SQLite: may wait for the write lock)')
            [CompletionResult]::new('--audit-retention', '--audit-retention', [CompletionResultType]::ParameterName, 'Keep audit records this long (e.g. 365d, at least 1d), pruning older ones hourly with a record of each pruning; without it records are kept for ever')
            [CompletionResult]::new('--currency', '--currency', [CompletionResultType]::ParameterName, 'Currency of template costs, budgets and spend (an ISO 4217 code)')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format: a table for people, JSON or YAML documents for programs')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format: a table for people, JSON or YAML documents for programs')
            [CompletionResult]::new('--context', '--context', [CompletionResultType]::ParameterName, 'Context (platform connection) to use instead of the current one')
            [CompletionResult]::new('--account', '--account', [CompletionResultType]::ParameterName, 'Account to act in (default: your own)')
            [CompletionResult]::new('--user', '--user', [CompletionResultType]::ParameterName, 'Platform user to act as on an embedded platform (default: the local operator)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print only data and errors')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print only data and errors')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Say more about what is happening (repeat for more)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Say more about what is happening (repeat for more)')
            [CompletionResult]::new('--no-input', '--no-input', [CompletionResultType]::ParameterName, 'Never prompt; fail listing every missing value instead')
            [CompletionResult]::new('-y', '-y', [CompletionResultType]::ParameterName, 'Answer yes to confirmations')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Answer yes to confirmations')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('migrate', 'migrate', [CompletionResultType]::ParameterValue, 'Create or upgrade the database schema, then exit')
            [CompletionResult]::new('openapi', 'openapi', [CompletionResultType]::ParameterValue, 'Print the OpenAPI document the server serves at /api/v1/openapi.json')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'plat;server;migrate' {
            [CompletionResult]::new('--database-url', '--database-url', [CompletionResultType]::ParameterName, 'Database: postgres://USER@HOST:PORT/DB or sqlite://PATH')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format: a table for people, JSON or YAML documents for programs')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format: a table for people, JSON or YAML documents for programs')
            [CompletionResult]::new('--context', '--context', [CompletionResultType]::ParameterName, 'Context (platform connection) to use instead of the current one')
            [CompletionResult]::new('--account', '--account', [CompletionResultType]::ParameterName, 'Account to act in (default: your own)')
            [CompletionResult]::new('--user', '--user', [CompletionResultType]::ParameterName, 'Platform user to act as on an embedded platform (default: the local operator)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print only data and errors')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print only data and errors')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Say more about what is happening (repeat for more)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Say more about what is happening (repeat for more)')
            [CompletionResult]::new('--no-input', '--no-input', [CompletionResultType]::ParameterName, 'Never prompt; fail listing every missing value instead')
            [CompletionResult]::new('-y', '-y', [CompletionResultType]::ParameterName, 'Answer yes to confirmations')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Answer yes to confirmations')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'plat;server;openapi' {
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format: a table for people, JSON or YAML documents for programs')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format: a table for people, JSON or YAML documents for programs')
            [CompletionResult]::new('--context', '--context', [CompletionResultType]::ParameterName, 'Context (platform connection) to use instead of the current one')
            [CompletionResult]::new('--account', '--account', [CompletionResultType]::ParameterName, 'Account to act in (default: your own)')
            [CompletionResult]::new('--user', '--user', [CompletionResultType]::ParameterName, 'Platform user to act as on an embedded platform (default: the local operator)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print only data and errors')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print only data and errors')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Say more about what is happening (repeat for more)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Say more about what is happening (repeat for more)')
            [CompletionResult]::new('--no-input', '--no-input', [CompletionResultType]::ParameterName, 'Never prompt; fail listing every missing value instead')
            [CompletionResult]::new('-y', '-y', [CompletionResultType]::ParameterName, 'Answer yes to confirmations')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Answer yes to confirmations')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'plat;server;help' {
            [CompletionResult]::new('migrate', 'migrate', [CompletionResultType]::ParameterValue, 'Create or upgrade the database schema, then exit')
            [CompletionResult]::new('openapi', 'openapi', [CompletionResultType]::ParameterValue, 'Print the OpenAPI document the server serves at /api/v1/openapi.json')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'plat;server;help;migrate' {
            break
        }
        'plat;server;help;openapi' {
            break
        }
        'plat;server;help;help' {
            break
        }
        'plat;completion' {
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format: a table for people, JSON or YAML documents for programs')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format: a table for people, JSON or YAML documents for programs')
            [CompletionResult]::new('--context', '--context', [CompletionResultType]::ParameterName, 'Context (platform connection) to use instead of the current one')
            [CompletionResult]::new('--account', '--account', [CompletionResultType]::ParameterName, 'Account to act in (default: your own)')
            [CompletionResult]::new('--user', '--user', [CompletionResultType]::ParameterName, 'Platform user to act as on an embedded platform (default: the local operator)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print only data and errors')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print only data and errors')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Say more about what is happening (repeat for more)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Say more about what is happening (repeat for more)')
            [CompletionResult]::new('--no-input', '--no-input', [CompletionResultType]::ParameterName, 'Never prompt; fail listing every missing value instead')
            [CompletionResult]::new('-y', '-y', [CompletionResultType]::ParameterName, 'Answer yes to confirmations')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Answer yes to confirmations')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'plat;help' {
            [CompletionResult]::new('account', 'account', [CompletionResultType]::ParameterValue, 'Manage accounts: your own and the sub-accounts below it')
            [CompletionResult]::new('tenant', 'tenant', [CompletionResultType]::ParameterValue, 'Manage tenants: domains and branding under which accounts see the platform')
            [CompletionResult]::new('user', 'user', [CompletionResultType]::ParameterValue, 'Link platform users to the current account, or revoke their access')
            [CompletionResult]::new('group', 'group', [CompletionResultType]::ParameterValue, 'Manage groups, the only holders of permissions')
            [CompletionResult]::new('trust', 'trust', [CompletionResultType]::ParameterValue, 'Trust rules: let external tokens (GitHub Actions jobs) act with a group''s permissions')
            [CompletionResult]::new('context', 'context', [CompletionResultType]::ParameterValue, 'Manage contexts: which platform plat talks to, and as whom')
            [CompletionResult]::new('whoami', 'whoami', [CompletionResultType]::ParameterValue, 'Show who you are acting as, in which account, with which permissions')
            [CompletionResult]::new('env', 'env', [CompletionResultType]::ParameterValue, 'Short-lived environments provisioned by Terraform/OpenTofu')
            [CompletionResult]::new('policy', 'policy', [CompletionResultType]::ParameterValue, 'Environment policies: lifetime limits, daily quota, monthly budget and templates that need approval')
            [CompletionResult]::new('audit', 'audit', [CompletionResultType]::ParameterValue, 'The audit trail: every write and every refusal, by whom, where and when')
            [CompletionResult]::new('spend', 'spend', [CompletionResultType]::ParameterValue, 'Spend of environments in this account and its sub-accounts, by account, tenant or label')
            [CompletionResult]::new('automation', 'automation', [CompletionResultType]::ParameterValue, 'Automations: define, run and follow the platform''s processes')
            [CompletionResult]::new('scan', 'scan', [CompletionResultType]::ParameterValue, 'Inventory and policy checks over manifests, Terraform state and live clusters')
            [CompletionResult]::new('scaffold', 'scaffold', [CompletionResultType]::ParameterValue, 'Create projects from Backstage Software Templates, offline, and keep them updatable')
            [CompletionResult]::new('login', 'login', [CompletionResultType]::ParameterValue, 'Log in to a plat server with your identity provider (OIDC device flow)')
            [CompletionResult]::new('logout', 'logout', [CompletionResultType]::ParameterValue, 'Forget the login of the current context and revoke its refresh token')
            [CompletionResult]::new('auth', 'auth', [CompletionResultType]::ParameterValue, 'Inspect the current login')
            [CompletionResult]::new('server', 'server', [CompletionResultType]::ParameterValue, 'Serve the platform to a team over HTTP (SQLite or PostgreSQL, OIDC bearer tokens)')
            [CompletionResult]::new('completion', 'completion', [CompletionResultType]::ParameterValue, 'Print a shell completion script')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'plat;help;account' {
            [CompletionResult]::new('list', 'list', [CompletionResultType]::ParameterValue, 'List the current account and every account below it')
            [CompletionResult]::new('show', 'show', [CompletionResultType]::ParameterValue, 'Show one account')
            [CompletionResult]::new('create', 'create', [CompletionResultType]::ParameterValue, 'Create a sub-account of the current account')
            [CompletionResult]::new('update', 'update', [CompletionResultType]::ParameterValue, 'Change a sub-account''s name, tenant, owner or roles (your own account: its name only)')
            [CompletionResult]::new('delete', 'delete', [CompletionResultType]::ParameterValue, 'Delete a sub-account that has no sub-accounts of its own')
            break
        }
        'plat;help;account;list' {
            break
        }
        'plat;help;account;show' {
            break
        }
        'plat;help;account;create' {
            break
        }
        'plat;help;account;update' {
            break
        }
        'plat;help;account;delete' {
            break
        }
        'plat;help;tenant' {
            [CompletionResult]::new('list', 'list', [CompletionResultType]::ParameterValue, 'List the tenants your account owns or is bound to')
            [CompletionResult]::new('show', 'show', [CompletionResultType]::ParameterValue, 'Show one tenant')
            [CompletionResult]::new('create', 'create', [CompletionResultType]::ParameterValue, 'Create a tenant for your sub-accounts')
            [CompletionResult]::new('update', 'update', [CompletionResultType]::ParameterValue, 'Change a tenant''s domain or branding')
            [CompletionResult]::new('delete', 'delete', [CompletionResultType]::ParameterValue, 'Delete a tenant no account is bound to')
            break
        }
        'plat;help;tenant;list' {
            break
        }
        'plat;help;tenant;show' {
            break
        }
        'plat;help;tenant;create' {
            break
        }
        'plat;help;tenant;update' {
            break
        }
        'plat;help;tenant;delete' {
            break
        }
        'plat;help;user' {
            [CompletionResult]::new('list', 'list', [CompletionResultType]::ParameterValue, 'List the users linked to the current account')
            [CompletionResult]::new('show', 'show', [CompletionResultType]::ParameterValue, 'Show one linked user')
            [CompletionResult]::new('create', 'create', [CompletionResultType]::ParameterValue, 'Link a user to the current account, creating the platform user if needed')
            [CompletionResult]::new('update', 'update', [CompletionResultType]::ParameterValue, 'Change your own display name (users own themselves)')
            [CompletionResult]::new('revoke', 'revoke', [CompletionResultType]::ParameterValue, 'Remove a user''s access to the current account; the user is kept')
            break
        }
        'plat;help;user;list' {
            break
        }
        'plat;help;user;show' {
            break
        }
        'plat;help;user;create' {
            break
        }
        'plat;help;user;update' {
            break
        }
        'plat;help;user;revoke' {
            break
        }
        'plat;help;group' {
            [CompletionResult]::new('list', 'list', [CompletionResultType]::ParameterValue, 'List the current account''s groups')
            [CompletionResult]::new('show', 'show', [CompletionResultType]::ParameterValue, 'Show one group with its permissions and members')
            [CompletionResult]::new('create', 'create', [CompletionResultType]::ParameterValue, 'Create a group with permissions')
            [CompletionResult]::new('update', 'update', [CompletionResultType]::ParameterValue, 'Add or remove permissions of a group')
            [CompletionResult]::new('delete', 'delete', [CompletionResultType]::ParameterValue, 'Delete a group (predefined groups stay)')
            [CompletionResult]::new('add-member', 'add-member', [CompletionResultType]::ParameterValue, 'Add a linked user to a group')
            [CompletionResult]::new('remove-member', 'remove-member', [CompletionResultType]::ParameterValue, 'Remove a user from a group')
            [CompletionResult]::new('link-idp', 'link-idp', [CompletionResultType]::ParameterValue, 'Give the members of an identity-provider group this group''s permissions')
            [CompletionResult]::new('unlink-idp', 'unlink-idp', [CompletionResultType]::ParameterValue, 'Remove an identity-provider group''s link to this group')
            [CompletionResult]::new('permissions', 'permissions', [CompletionResultType]::ParameterValue, 'List every permission a group can hold')
            break
        }
        'plat;help;group;list' {
            break
        }
        'plat;help;group;show' {
            break
        }
        'plat;help;group;create' {
            break
        }
        'plat;help;group;update' {
            break
        }
        'plat;help;group;delete' {
            break
        }
        'plat;help;group;add-member' {
            break
        }
        'plat;help;group;remove-member' {
            break
        }
        'plat;help;group;link-idp' {
            break
        }
        'plat;help;group;unlink-idp' {
            break
        }
        'plat;help;group;permissions' {
            break
        }
        'plat;help;trust' {
            [CompletionResult]::new('list', 'list', [CompletionResultType]::ParameterValue, 'List the account''s trust rules')
            [CompletionResult]::new('add', 'add', [CompletionResultType]::ParameterValue, 'Let tokens of an external issuer (a GitHub Actions job) act with a group''s permissions')
            [CompletionResult]::new('delete', 'delete', [CompletionResultType]::ParameterValue, 'Delete a trust rule: its tokens are refused from the next request')
            break
        }
        'plat;help;trust;list' {
            break
        }
        'plat;help;trust;add' {
            break
        }
        'plat;help;trust;delete' {
            break
        }
        'plat;help;context' {
            [CompletionResult]::new('list', 'list', [CompletionResultType]::ParameterValue, 'List contexts; the current one is marked')
            [CompletionResult]::new('show', 'show', [CompletionResultType]::ParameterValue, 'Show a context (default: the current one)')
            [CompletionResult]::new('use', 'use', [CompletionResultType]::ParameterValue, 'Make a context the current one')
            [CompletionResult]::new('add', 'add', [CompletionResultType]::ParameterValue, 'Add or replace a context')
            [CompletionResult]::new('delete', 'delete', [CompletionResultType]::ParameterValue, 'Delete a context')
            break
        }
        'plat;help;context;list' {
            break
        }
        'plat;help;context;show' {
            break
        }
        'plat;help;context;use' {
            break
        }
        'plat;help;context;add' {
            break
        }
        'plat;help;context;delete' {
            break
        }
        'plat;help;whoami' {
            break
        }
        'plat;help;env' {
            [CompletionResult]::new('template', 'template', [CompletionResultType]::ParameterValue, 'Environment templates: built-in ones and those in PLAT_TEMPLATE_PATH')
            [CompletionResult]::new('up', 'up', [CompletionResultType]::ParameterValue, 'Provision an environment from a template (Terraform/OpenTofu); it is destroyed when it expires')
            [CompletionResult]::new('list', 'list', [CompletionResultType]::ParameterValue, 'List this account''s environments')
            [CompletionResult]::new('show', 'show', [CompletionResultType]::ParameterValue, 'Show an environment: status, expiry, resources, outputs')
            [CompletionResult]::new('logs', 'logs', [CompletionResultType]::ParameterValue, 'Print the Terraform log of an environment''s last run')
            [CompletionResult]::new('outputs', 'outputs', [CompletionResultType]::ParameterValue, 'Print an environment''s outputs (sensitive values redacted)')
            [CompletionResult]::new('extend', 'extend', [CompletionResultType]::ParameterValue, 'Push an environment''s expiry to now + DURATION (capped by the policy''s maximum lifetime)')
            [CompletionResult]::new('down', 'down', [CompletionResultType]::ParameterValue, 'Destroy an environment; an environment already gone is not an error')
            [CompletionResult]::new('quota', 'quota', [CompletionResultType]::ParameterValue, 'How many environments you may still create today')
            [CompletionResult]::new('reap', 'reap', [CompletionResultType]::ParameterValue, 'Destroy every expired environment (for cron or a CI schedule)')
            [CompletionResult]::new('approve', 'approve', [CompletionResultType]::ParameterValue, 'Approve an environment of a protected template; its requester''s `env up` then provisions it')
            [CompletionResult]::new('reject', 'reject', [CompletionResultType]::ParameterValue, 'Reject an environment of a protected template; nothing is provisioned')
            break
        }
        'plat;help;env;template' {
            [CompletionResult]::new('list', 'list', [CompletionResultType]::ParameterValue, 'List the templates')
            [CompletionResult]::new('show', 'show', [CompletionResultType]::ParameterValue, 'Show a template''s parameters and lifetime limits')
            break
        }
        'plat;help;env;template;list' {
            break
        }
        'plat;help;env;template;show' {
            break
        }
        'plat;help;env;up' {
            break
        }
        'plat;help;env;list' {
            break
        }
        'plat;help;env;show' {
            break
        }
        'plat;help;env;logs' {
            break
        }
        'plat;help;env;outputs' {
            break
        }
        'plat;help;env;extend' {
            break
        }
        'plat;help;env;down' {
            break
        }
        'plat;help;env;quota' {
            break
        }
        'plat;help;env;reap' {
            break
        }
        'plat;help;env;approve' {
            break
        }
        'plat;help;env;reject' {
            break
        }
        'plat;help;policy' {
            [CompletionResult]::new('show', 'show', [CompletionResultType]::ParameterValue, 'Show the environment policy in force for the current account')
            [CompletionResult]::new('set', 'set', [CompletionResultType]::ParameterValue, 'Tighten the environment policy of the current account, or of a tenant it owns')
            break
        }
        'plat;help;policy;show' {
            break
        }
        'plat;help;policy;set' {
            break
        }
        'plat;help;audit' {
            [CompletionResult]::new('list', 'list', [CompletionResultType]::ParameterValue, 'List who did what in this account and its sub-accounts, newest first (needs audit:read)')
            break
        }
        'plat;help;audit;list' {
            break
        }
        'plat;help;spend' {
            break
        }
        'plat;help;automation' {
            [CompletionResult]::new('apply', 'apply', [CompletionResultType]::ParameterValue, 'Create or update an automation from a YAML definition (apiVersion: plat.dev/v1, kind: Automation)')
            [CompletionResult]::new('list', 'list', [CompletionResultType]::ParameterValue, 'List this account''s automations')
            [CompletionResult]::new('show', 'show', [CompletionResultType]::ParameterValue, 'Show an automation: trigger, parameters, steps')
            [CompletionResult]::new('delete', 'delete', [CompletionResultType]::ParameterValue, 'Delete an automation (its runs stay on record)')
            [CompletionResult]::new('run', 'run', [CompletionResultType]::ParameterValue, 'Run an automation now and follow it; exits 0 when it succeeds, 1 when it fails')
            [CompletionResult]::new('runs', 'runs', [CompletionResultType]::ParameterValue, 'List runs, newest first')
            [CompletionResult]::new('logs', 'logs', [CompletionResultType]::ParameterValue, 'Print the log of a run')
            [CompletionResult]::new('cancel', 'cancel', [CompletionResultType]::ParameterValue, 'Stop a run: its running step is killed')
            break
        }
        'plat;help;automation;apply' {
            break
        }
        'plat;help;automation;list' {
            break
        }
        'plat;help;automation;show' {
            break
        }
        'plat;help;automation;delete' {
            break
        }
        'plat;help;automation;run' {
            break
        }
        'plat;help;automation;runs' {
            break
        }
        'plat;help;automation;logs' {
            break
        }
        'plat;help;automation;cancel' {
            break
        }
        'plat;help;scan' {
            [CompletionResult]::new('rules', 'rules', [CompletionResultType]::ParameterValue, 'List the rule catalogue: id, name, default severity, target and how to fix, then the rules of the Rego policies (--policy DIR, else .plat/policies/)')
            [CompletionResult]::new('list', 'list', [CompletionResultType]::ParameterValue, 'List the inventories this account has published with --publish')
            [CompletionResult]::new('show', 'show', [CompletionResultType]::ParameterValue, 'Show a published inventory: summary and findings, or its Backstage entities')
            break
        }
        'plat;help;scan;rules' {
            break
        }
        'plat;help;scan;list' {
            break
        }
        'plat;help;scan;show' {
            break
        }
        'plat;help;scaffold' {
            [CompletionResult]::new('list', 'list', [CompletionResultType]::ParameterValue, 'List the templates: built-in ones and those in PLAT_TEMPLATE_PATH')
            [CompletionResult]::new('show', 'show', [CompletionResultType]::ParameterValue, 'Show a template''s parameters: title, type, required, default and choices')
            [CompletionResult]::new('run', 'run', [CompletionResultType]::ParameterValue, 'Create a project from a template, offline; publish it with git when the template says so')
            [CompletionResult]::new('update', 'update', [CompletionResultType]::ParameterValue, 'Bring a generated project up to date with its template (three-way merge; exit 3 on conflicts)')
            break
        }
        'plat;help;scaffold;list' {
            break
        }
        'plat;help;scaffold;show' {
            break
        }
        'plat;help;scaffold;run' {
            break
        }
        'plat;help;scaffold;update' {
            break
        }
        'plat;help;login' {
            break
        }
        'plat;help;logout' {
            break
        }
        'plat;help;auth' {
            [CompletionResult]::new('status', 'status', [CompletionResultType]::ParameterValue, 'Show whether you are logged in to the current context, as whom, until when')
            [CompletionResult]::new('token', 'token', [CompletionResultType]::ParameterValue, 'Print a valid access token (refreshed if needed) for use in scripts')
            break
        }
        'plat;help;auth;status' {
            break
        }
        'plat;help;auth;token' {
            break
        }
        'plat;help;server' {
            [CompletionResult]::new('migrate', 'migrate', [CompletionResultType]::ParameterValue, 'Create or upgrade the database schema, then exit')
            [CompletionResult]::new('openapi', 'openapi', [CompletionResultType]::ParameterValue, 'Print the OpenAPI document the server serves at /api/v1/openapi.json')
            break
        }
        'plat;help;server;migrate' {
            break
        }
        'plat;help;server;openapi' {
            break
        }
        'plat;help;completion' {
            break
        }
        'plat;help;help' {
            break
        }
    })

    $completions.Where{ $_.CompletionText -like "$wordToComplete*" } |
        Sort-Object -Property ListItemText
}
