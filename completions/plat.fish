# Print an optspec for argparse to handle cmd's options that are independent of any subcommand.
function __fish_plat_global_optspecs
    string join \n o/output= context= account= user= q/quiet v/verbose no-input y/yes h/help V/version
end

function __fish_plat_needs_command
    # Figure out if the current invocation already has a command.
    set -l cmd (commandline -opc)
    set -e cmd[1]
    argparse -s (__fish_plat_global_optspecs) -- $cmd 2>/dev/null
    or return
    if set -q argv[1]
        # Also print the command, so this can be used to figure out what it is.
        echo $argv[1]
        return 1
    end
    return 0
end

function __fish_plat_using_subcommand
    set -l cmd (__fish_plat_needs_command)
    test -z "$cmd"
    and return 1
    contains -- $cmd[1] $argv
end

complete -c plat -n "__fish_plat_needs_command" -s o -l output -d 'Output format: a table for people, JSON or YAML documents for programs' -r -f -a "table\t''
json\t''
yaml\t''"
complete -c plat -n "__fish_plat_needs_command" -l context -d 'Context (platform connection) to use instead of the current one' -r
complete -c plat -n "__fish_plat_needs_command" -l account -d 'Account to act in (default: your own)' -r
complete -c plat -n "__fish_plat_needs_command" -l user -d 'Platform user to act as on an embedded platform (default: the local operator)' -r
complete -c plat -n "__fish_plat_needs_command" -s q -l quiet -d 'Print only data and errors'
complete -c plat -n "__fish_plat_needs_command" -s v -l verbose -d 'Say more about what is happening (repeat for more)'
complete -c plat -n "__fish_plat_needs_command" -l no-input -d 'Never prompt; fail listing every missing value instead'
complete -c plat -n "__fish_plat_needs_command" -s y -l yes -d 'Answer yes to confirmations'
complete -c plat -n "__fish_plat_needs_command" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c plat -n "__fish_plat_needs_command" -s V -l version -d 'Print version'
complete -c plat -n "__fish_plat_needs_command" -f -a "account" -d 'Manage accounts: your own and the sub-accounts below it'
complete -c plat -n "__fish_plat_needs_command" -f -a "tenant" -d 'Manage tenants: domains and branding under which accounts see the platform'
complete -c plat -n "__fish_plat_needs_command" -f -a "user" -d 'Link platform users to the current account, or revoke their access'
complete -c plat -n "__fish_plat_needs_command" -f -a "group" -d 'Manage groups, the only holders of permissions'
complete -c plat -n "__fish_plat_needs_command" -f -a "trust" -d 'Trust rules: let external tokens (GitHub Actions jobs) act with a group\'s permissions'
complete -c plat -n "__fish_plat_needs_command" -f -a "context" -d 'Manage contexts: which platform plat talks to, and as whom'
complete -c plat -n "__fish_plat_needs_command" -f -a "whoami" -d 'Show who you are acting as, in which account, with which permissions'
complete -c plat -n "__fish_plat_needs_command" -f -a "env" -d 'Short-lived environments provisioned by Terraform/OpenTofu'
complete -c plat -n "__fish_plat_needs_command" -f -a "policy" -d 'Environment policies: lifetime limits, daily quota, monthly budget and templates that need approval'
complete -c plat -n "__fish_plat_needs_command" -f -a "audit" -d 'The audit trail: every write and every refusal, by whom, where and when'
complete -c plat -n "__fish_plat_needs_command" -f -a "spend" -d 'Spend of environments in this account and its sub-accounts, by account, tenant or label'
complete -c plat -n "__fish_plat_needs_command" -f -a "automation" -d 'Automations: define, run and follow the platform\'s processes'
complete -c plat -n "__fish_plat_needs_command" -f -a "scan" -d 'Inventory and policy checks over manifests, Terraform state and live clusters'
complete -c plat -n "__fish_plat_needs_command" -f -a "scaffold" -d 'Create projects from Backstage Software Templates, offline, and keep them updatable'
complete -c plat -n "__fish_plat_needs_command" -f -a "login" -d 'Log in to a plat server with your identity provider (OIDC device flow)'
complete -c plat -n "__fish_plat_needs_command" -f -a "logout" -d 'Forget the login of the current context and revoke its refresh token'
complete -c plat -n "__fish_plat_needs_command" -f -a "auth" -d 'Inspect the current login'
complete -c plat -n "__fish_plat_needs_command" -f -a "server" -d 'Serve the platform to a team over HTTP (SQLite or PostgreSQL, OIDC bearer tokens)'
complete -c plat -n "__fish_plat_needs_command" -f -a "completion" -d 'Print a shell completion script'
complete -c plat -n "__fish_plat_needs_command" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c plat -n "__fish_plat_using_subcommand account; and not __fish_seen_subcommand_from list ls show create update delete rm help" -s o -l output -d 'Output format: a table for people, JSON or YAML documents for programs' -r -f -a "table\t''
json\t''
yaml\t''"
complete -c plat -n "__fish_plat_using_subcommand account; and not __fish_seen_subcommand_from list ls show create update delete rm help" -l context -d 'Context (platform connection) to use instead of the current one' -r
complete -c plat -n "__fish_plat_using_subcommand account; and not __fish_seen_subcommand_from list ls show create update delete rm help" -l account -d 'Account to act in (default: your own)' -r
complete -c plat -n "__fish_plat_using_subcommand account; and not __fish_seen_subcommand_from list ls show create update delete rm help" -l user -d 'Platform user to act as on an embedded platform (default: the local operator)' -r
complete -c plat -n "__fish_plat_using_subcommand account; and not __fish_seen_subcommand_from list ls show create update delete rm help" -s q -l quiet -d 'Print only data and errors'
complete -c plat -n "__fish_plat_using_subcommand account; and not __fish_seen_subcommand_from list ls show create update delete rm help" -s v -l verbose -d 'Say more about what is happening (repeat for more)'
complete -c plat -n "__fish_plat_using_subcommand account; and not __fish_seen_subcommand_from list ls show create update delete rm help" -l no-input -d 'Never prompt; fail listing every missing value instead'
complete -c plat -n "__fish_plat_using_subcommand account; and not __fish_seen_subcommand_from list ls show create update delete rm help" -s y -l yes -d 'Answer yes to confirmations'
complete -c plat -n "__fish_plat_using_subcommand account; and not __fish_seen_subcommand_from list ls show create update delete rm help" -s h -l help -d 'Print help'
complete -c plat -n "__fish_plat_using_subcommand account; and not __fish_seen_subcommand_from list ls show create update delete rm help" -s V -l version -d 'Print version'
complete -c plat -n "__fish_plat_using_subcommand account; and not __fish_seen_subcommand_from list ls show create update delete rm help" -f -a "list" -d 'List the current account and every account below it'
complete -c plat -n "__fish_plat_using_subcommand account; and not __fish_seen_subcommand_from list ls show create update delete rm help" -f -a "ls" -d 'List the current account and every account below it'
complete -c plat -n "__fish_plat_using_subcommand account; and not __fish_seen_subcommand_from list ls show create update delete rm help" -f -a "show" -d 'Show one account'
complete -c plat -n "__fish_plat_using_subcommand account; and not __fish_seen_subcommand_from list ls show create update delete rm help" -f -a "create" -d 'Create a sub-account of the current account'
complete -c plat -n "__fish_plat_using_subcommand account; and not __fish_seen_subcommand_from list ls show create update delete rm help" -f -a "update" -d 'Change a sub-account\'s name, tenant, owner or roles (your own account: its name only)'
complete -c plat -n "__fish_plat_using_subcommand account; and not __fish_seen_subcommand_from list ls show create update delete rm help" -f -a "delete" -d 'Delete a sub-account that has no sub-accounts of its own'
complete -c plat -n "__fish_plat_using_subcommand account; and not __fish_seen_subcommand_from list ls show create update delete rm help" -f -a "rm" -d 'Delete a sub-account that has no sub-accounts of its own'
complete -c plat -n "__fish_plat_using_subcommand account; and not __fish_seen_subcommand_from list ls show create update delete rm help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c plat -n "__fish_plat_using_subcommand account; and __fish_seen_subcommand_from list" -l limit -d 'Show at most this many accounts' -r
complete -c plat -n "__fish_plat_using_subcommand account; and __fish_seen_subcommand_from list" -s o -l output -d 'Output format: a table for people, JSON or YAML documents for programs' -r -f -a "table\t''
json\t''
yaml\t''"
complete -c plat -n "__fish_plat_using_subcommand account; and __fish_seen_subcommand_from list" -l context -d 'Context (platform connection) to use instead of the current one' -r
complete -c plat -n "__fish_plat_using_subcommand account; and __fish_seen_subcommand_from list" -l account -d 'Account to act in (default: your own)' -r
complete -c plat -n "__fish_plat_using_subcommand account; and __fish_seen_subcommand_from list" -l user -d 'Platform user to act as on an embedded platform (default: the local operator)' -r
complete -c plat -n "__fish_plat_using_subcommand account; and __fish_seen_subcommand_from list" -s q -l quiet -d 'Print only data and errors'
complete -c plat -n "__fish_plat_using_subcommand account; and __fish_seen_subcommand_from list" -s v -l verbose -d 'Say more about what is happening (repeat for more)'
complete -c plat -n "__fish_plat_using_subcommand account; and __fish_seen_subcommand_from list" -l no-input -d 'Never prompt; fail listing every missing value instead'
complete -c plat -n "__fish_plat_using_subcommand account; and __fish_seen_subcommand_from list" -s y -l yes -d 'Answer yes to confirmations'
complete -c plat -n "__fish_plat_using_subcommand account; and __fish_seen_subcommand_from list" -s h -l help -d 'Print help'
complete -c plat -n "__fish_plat_using_subcommand account; and __fish_seen_subcommand_from list" -s V -l version -d 'Print version'
complete -c plat -n "__fish_plat_using_subcommand account; and __fish_seen_subcommand_from ls" -l limit -d 'Show at most this many accounts' -r
complete -c plat -n "__fish_plat_using_subcommand account; and __fish_seen_subcommand_from ls" -s o -l output -d 'Output format: a table for people, JSON or YAML documents for programs' -r -f -a "table\t''
json\t''
yaml\t''"
complete -c plat -n "__fish_plat_using_subcommand account; and __fish_seen_subcommand_from ls" -l context -d 'Context (platform connection) to use instead of the current one' -r
complete -c plat -n "__fish_plat_using_subcommand account; and __fish_seen_subcommand_from ls" -l account -d 'Account to act in (default: your own)' -r
complete -c plat -n "__fish_plat_using_subcommand account; and __fish_seen_subcommand_from ls" -l user -d 'Platform user to act as on an embedded platform (default: the local operator)' -r
complete -c plat -n "__fish_plat_using_subcommand account; and __fish_seen_subcommand_from ls" -s q -l quiet -d 'Print only data and errors'
complete -c plat -n "__fish_plat_using_subcommand account; and __fish_seen_subcommand_from ls" -s v -l verbose -d 'Say more about what is happening (repeat for more)'
complete -c plat -n "__fish_plat_using_subcommand account; and __fish_seen_subcommand_from ls" -l no-input -d 'Never prompt; fail listing every missing value instead'
complete -c plat -n "__fish_plat_using_subcommand account; and __fish_seen_subcommand_from ls" -s y -l yes -d 'Answer yes to confirmations'
complete -c plat -n "__fish_plat_using_subcommand account; and __fish_seen_subcommand_from ls" -s h -l help -d 'Print help'
complete -c plat -n "__fish_plat_using_subcommand account; and __fish_seen_subcommand_from ls" -s V -l version -d 'Print version'
complete -c plat -n "__fish_plat_using_subcommand account; and __fish_seen_subcommand_from show" -s o -l output -d 'Output format: a table for people, JSON or YAML documents for programs' -r -f -a "table\t''
json\t''
yaml\t''"
complete -c plat -n "__fish_plat_using_subcommand account; and __fish_seen_subcommand_from show" -l context -d 'Context (platform connection) to use instead of the current one' -r
complete -c plat -n "__fish_plat_using_subcommand account; and __fish_seen_subcommand_from show" -l account -d 'Account to act in (default: your own)' -r
complete -c plat -n "__fish_plat_using_subcommand account; and __fish_seen_subcommand_from show" -l user -d 'Platform user to act as on an embedded platform (default: the local operator)' -r
complete -c plat -n "__fish_plat_using_subcommand account; and __fish_seen_subcommand_from show" -s q -l quiet -d 'Print only data and errors'
complete -c plat -n "__fish_plat_using_subcommand account; and __fish_seen_subcommand_from show" -s v -l verbose -d 'Say more about what is happening (repeat for more)'
complete -c plat -n "__fish_plat_using_subcommand account; and __fish_seen_subcommand_from show" -l no-input -d 'Never prompt; fail listing every missing value instead'
complete -c plat -n "__fish_plat_using_subcommand account; and __fish_seen_subcommand_from show" -s y -l yes -d 'Answer yes to confirmations'
complete -c plat -n "__fish_plat_using_subcommand account; and __fish_seen_subcommand_from show" -s h -l help -d 'Print help'
complete -c plat -n "__fish_plat_using_subcommand account; and __fish_seen_subcommand_from show" -s V -l version -d 'Print version'
complete -c plat -n "__fish_plat_using_subcommand account; and __fish_seen_subcommand_from create" -l owner -d 'E-mail of the owner user (created if it does not exist yet)' -r
complete -c plat -n "__fish_plat_using_subcommand account; and __fish_seen_subcommand_from create" -l name -d 'Display name (default: the slug)' -r
complete -c plat -n "__fish_plat_using_subcommand account; and __fish_seen_subcommand_from create" -l tenant -d 'Tenant to bind the account to (default: the current account\'s tenant)' -r
complete -c plat -n "__fish_plat_using_subcommand account; and __fish_seen_subcommand_from create" -l role -d 'Role to grant the new account (repeatable)' -r
complete -c plat -n "__fish_plat_using_subcommand account; and __fish_seen_subcommand_from create" -s o -l output -d 'Output format: a table for people, JSON or YAML documents for programs' -r -f -a "table\t''
json\t''
yaml\t''"
complete -c plat -n "__fish_plat_using_subcommand account; and __fish_seen_subcommand_from create" -l context -d 'Context (platform connection) to use instead of the current one' -r
complete -c plat -n "__fish_plat_using_subcommand account; and __fish_seen_subcommand_from create" -l account -d 'Account to act in (default: your own)' -r
complete -c plat -n "__fish_plat_using_subcommand account; and __fish_seen_subcommand_from create" -l user -d 'Platform user to act as on an embedded platform (default: the local operator)' -r
complete -c plat -n "__fish_plat_using_subcommand account; and __fish_seen_subcommand_from create" -s q -l quiet -d 'Print only data and errors'
complete -c plat -n "__fish_plat_using_subcommand account; and __fish_seen_subcommand_from create" -s v -l verbose -d 'Say more about what is happening (repeat for more)'
complete -c plat -n "__fish_plat_using_subcommand account; and __fish_seen_subcommand_from create" -l no-input -d 'Never prompt; fail listing every missing value instead'
complete -c plat -n "__fish_plat_using_subcommand account; and __fish_seen_subcommand_from create" -s y -l yes -d 'Answer yes to confirmations'
complete -c plat -n "__fish_plat_using_subcommand account; and __fish_seen_subcommand_from create" -s h -l help -d 'Print help'
complete -c plat -n "__fish_plat_using_subcommand account; and __fish_seen_subcommand_from create" -s V -l version -d 'Print version'
complete -c plat -n "__fish_plat_using_subcommand account; and __fish_seen_subcommand_from update" -l name -d 'New display name' -r
complete -c plat -n "__fish_plat_using_subcommand account; and __fish_seen_subcommand_from update" -l tenant -d 'Move the account to another tenant (parent accounts only)' -r
complete -c plat -n "__fish_plat_using_subcommand account; and __fish_seen_subcommand_from update" -l owner -d 'Give the account another owner (parent accounts only)' -r
complete -c plat -n "__fish_plat_using_subcommand account; and __fish_seen_subcommand_from update" -l add-role -d 'Grant a role (repeatable)' -r
complete -c plat -n "__fish_plat_using_subcommand account; and __fish_seen_subcommand_from update" -l remove-role -d 'Withdraw a role (repeatable)' -r
complete -c plat -n "__fish_plat_using_subcommand account; and __fish_seen_subcommand_from update" -s o -l output -d 'Output format: a table for people, JSON or YAML documents for programs' -r -f -a "table\t''
json\t''
yaml\t''"
complete -c plat -n "__fish_plat_using_subcommand account; and __fish_seen_subcommand_from update" -l context -d 'Context (platform connection) to use instead of the current one' -r
complete -c plat -n "__fish_plat_using_subcommand account; and __fish_seen_subcommand_from update" -l account -d 'Account to act in (default: your own)' -r
complete -c plat -n "__fish_plat_using_subcommand account; and __fish_seen_subcommand_from update" -l user -d 'Platform user to act as on an embedded platform (default: the local operator)' -r
complete -c plat -n "__fish_plat_using_subcommand account; and __fish_seen_subcommand_from update" -s q -l quiet -d 'Print only data and errors'
complete -c plat -n "__fish_plat_using_subcommand account; and __fish_seen_subcommand_from update" -s v -l verbose -d 'Say more about what is happening (repeat for more)'
complete -c plat -n "__fish_plat_using_subcommand account; and __fish_seen_subcommand_from update" -l no-input -d 'Never prompt; fail listing every missing value instead'
complete -c plat -n "__fish_plat_using_subcommand account; and __fish_seen_subcommand_from update" -s y -l yes -d 'Answer yes to confirmations'
complete -c plat -n "__fish_plat_using_subcommand account; and __fish_seen_subcommand_from update" -s h -l help -d 'Print help'
complete -c plat -n "__fish_plat_using_subcommand account; and __fish_seen_subcommand_from update" -s V -l version -d 'Print version'
complete -c plat -n "__fish_plat_using_subcommand account; and __fish_seen_subcommand_from delete" -s o -l output -d 'Output format: a table for people, JSON or YAML documents for programs' -r -f -a "table\t''
json\t''
yaml\t''"
complete -c plat -n "__fish_plat_using_subcommand account; and __fish_seen_subcommand_from delete" -l context -d 'Context (platform connection) to use instead of the current one' -r
complete -c plat -n "__fish_plat_using_subcommand account; and __fish_seen_subcommand_from delete" -l account -d 'Account to act in (default: your own)' -r
complete -c plat -n "__fish_plat_using_subcommand account; and __fish_seen_subcommand_from delete" -l user -d 'Platform user to act as on an embedded platform (default: the local operator)' -r
complete -c plat -n "__fish_plat_using_subcommand account; and __fish_seen_subcommand_from delete" -s q -l quiet -d 'Print only data and errors'
complete -c plat -n "__fish_plat_using_subcommand account; and __fish_seen_subcommand_from delete" -s v -l verbose -d 'Say more about what is happening (repeat for more)'
complete -c plat -n "__fish_plat_using_subcommand account; and __fish_seen_subcommand_from delete" -l no-input -d 'Never prompt; fail listing every missing value instead'
complete -c plat -n "__fish_plat_using_subcommand account; and __fish_seen_subcommand_from delete" -s y -l yes -d 'Answer yes to confirmations'
complete -c plat -n "__fish_plat_using_subcommand account; and __fish_seen_subcommand_from delete" -s h -l help -d 'Print help'
complete -c plat -n "__fish_plat_using_subcommand account; and __fish_seen_subcommand_from delete" -s V -l version -d 'Print version'
complete -c plat -n "__fish_plat_using_subcommand account; and __fish_seen_subcommand_from rm" -s o -l output -d 'Output format: a table for people, JSON or YAML documents for programs' -r -f -a "table\t''
json\t''
yaml\t''"
complete -c plat -n "__fish_plat_using_subcommand account; and __fish_seen_subcommand_from rm" -l context -d 'Context (platform connection) to use instead of the current one' -r
complete -c plat -n "__fish_plat_using_subcommand account; and __fish_seen_subcommand_from rm" -l account -d 'Account to act in (default: your own)' -r
complete -c plat -n "__fish_plat_using_subcommand account; and __fish_seen_subcommand_from rm" -l user -d 'Platform user to act as on an embedded platform (default: the local operator)' -r
complete -c plat -n "__fish_plat_using_subcommand account; and __fish_seen_subcommand_from rm" -s q -l quiet -d 'Print only data and errors'
complete -c plat -n "__fish_plat_using_subcommand account; and __fish_seen_subcommand_from rm" -s v -l verbose -d 'Say more about what is happening (repeat for more)'
complete -c plat -n "__fish_plat_using_subcommand account; and __fish_seen_subcommand_from rm" -l no-input -d 'Never prompt; fail listing every missing value instead'
complete -c plat -n "__fish_plat_using_subcommand account; and __fish_seen_subcommand_from rm" -s y -l yes -d 'Answer yes to confirmations'
complete -c plat -n "__fish_plat_using_subcommand account; and __fish_seen_subcommand_from rm" -s h -l help -d 'Print help'
complete -c plat -n "__fish_plat_using_subcommand account; and __fish_seen_subcommand_from rm" -s V -l version -d 'Print version'
complete -c plat -n "__fish_plat_using_subcommand account; and __fish_seen_subcommand_from help" -f -a "list" -d 'List the current account and every account below it'
complete -c plat -n "__fish_plat_using_subcommand account; and __fish_seen_subcommand_from help" -f -a "show" -d 'Show one account'
complete -c plat -n "__fish_plat_using_subcommand account; and __fish_seen_subcommand_from help" -f -a "create" -d 'Create a sub-account of the current account'
complete -c plat -n "__fish_plat_using_subcommand account; and __fish_seen_subcommand_from help" -f -a "update" -d 'Change a sub-account\'s name, tenant, owner or roles (your own account: its name only)'
complete -c plat -n "__fish_plat_using_subcommand account; and __fish_seen_subcommand_from help" -f -a "delete" -d 'Delete a sub-account that has no sub-accounts of its own'
complete -c plat -n "__fish_plat_using_subcommand account; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c plat -n "__fish_plat_using_subcommand tenant; and not __fish_seen_subcommand_from list ls show create update delete rm help" -s o -l output -d 'Output format: a table for people, JSON or YAML documents for programs' -r -f -a "table\t''
json\t''
yaml\t''"
complete -c plat -n "__fish_plat_using_subcommand tenant; and not __fish_seen_subcommand_from list ls show create update delete rm help" -l context -d 'Context (platform connection) to use instead of the current one' -r
complete -c plat -n "__fish_plat_using_subcommand tenant; and not __fish_seen_subcommand_from list ls show create update delete rm help" -l account -d 'Account to act in (default: your own)' -r
complete -c plat -n "__fish_plat_using_subcommand tenant; and not __fish_seen_subcommand_from list ls show create update delete rm help" -l user -d 'Platform user to act as on an embedded platform (default: the local operator)' -r
complete -c plat -n "__fish_plat_using_subcommand tenant; and not __fish_seen_subcommand_from list ls show create update delete rm help" -s q -l quiet -d 'Print only data and errors'
complete -c plat -n "__fish_plat_using_subcommand tenant; and not __fish_seen_subcommand_from list ls show create update delete rm help" -s v -l verbose -d 'Say more about what is happening (repeat for more)'
complete -c plat -n "__fish_plat_using_subcommand tenant; and not __fish_seen_subcommand_from list ls show create update delete rm help" -l no-input -d 'Never prompt; fail listing every missing value instead'
complete -c plat -n "__fish_plat_using_subcommand tenant; and not __fish_seen_subcommand_from list ls show create update delete rm help" -s y -l yes -d 'Answer yes to confirmations'
complete -c plat -n "__fish_plat_using_subcommand tenant; and not __fish_seen_subcommand_from list ls show create update delete rm help" -s h -l help -d 'Print help'
complete -c plat -n "__fish_plat_using_subcommand tenant; and not __fish_seen_subcommand_from list ls show create update delete rm help" -s V -l version -d 'Print version'
complete -c plat -n "__fish_plat_using_subcommand tenant; and not __fish_seen_subcommand_from list ls show create update delete rm help" -f -a "list" -d 'List the tenants your account owns or is bound to'
complete -c plat -n "__fish_plat_using_subcommand tenant; and not __fish_seen_subcommand_from list ls show create update delete rm help" -f -a "ls" -d 'List the tenants your account owns or is bound to'
complete -c plat -n "__fish_plat_using_subcommand tenant; and not __fish_seen_subcommand_from list ls show create update delete rm help" -f -a "show" -d 'Show one tenant'
complete -c plat -n "__fish_plat_using_subcommand tenant; and not __fish_seen_subcommand_from list ls show create update delete rm help" -f -a "create" -d 'Create a tenant for your sub-accounts'
complete -c plat -n "__fish_plat_using_subcommand tenant; and not __fish_seen_subcommand_from list ls show create update delete rm help" -f -a "update" -d 'Change a tenant\'s domain or branding'
complete -c plat -n "__fish_plat_using_subcommand tenant; and not __fish_seen_subcommand_from list ls show create update delete rm help" -f -a "delete" -d 'Delete a tenant no account is bound to'
complete -c plat -n "__fish_plat_using_subcommand tenant; and not __fish_seen_subcommand_from list ls show create update delete rm help" -f -a "rm" -d 'Delete a tenant no account is bound to'
complete -c plat -n "__fish_plat_using_subcommand tenant; and not __fish_seen_subcommand_from list ls show create update delete rm help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c plat -n "__fish_plat_using_subcommand tenant; and __fish_seen_subcommand_from list" -s o -l output -d 'Output format: a table for people, JSON or YAML documents for programs' -r -f -a "table\t''
json\t''
yaml\t''"
complete -c plat -n "__fish_plat_using_subcommand tenant; and __fish_seen_subcommand_from list" -l context -d 'Context (platform connection) to use instead of the current one' -r
complete -c plat -n "__fish_plat_using_subcommand tenant; and __fish_seen_subcommand_from list" -l account -d 'Account to act in (default: your own)' -r
complete -c plat -n "__fish_plat_using_subcommand tenant; and __fish_seen_subcommand_from list" -l user -d 'Platform user to act as on an embedded platform (default: the local operator)' -r
complete -c plat -n "__fish_plat_using_subcommand tenant; and __fish_seen_subcommand_from list" -s q -l quiet -d 'Print only data and errors'
complete -c plat -n "__fish_plat_using_subcommand tenant; and __fish_seen_subcommand_from list" -s v -l verbose -d 'Say more about what is happening (repeat for more)'
complete -c plat -n "__fish_plat_using_subcommand tenant; and __fish_seen_subcommand_from list" -l no-input -d 'Never prompt; fail listing every missing value instead'
complete -c plat -n "__fish_plat_using_subcommand tenant; and __fish_seen_subcommand_from list" -s y -l yes -d 'Answer yes to confirmations'
complete -c plat -n "__fish_plat_using_subcommand tenant; and __fish_seen_subcommand_from list" -s h -l help -d 'Print help'
complete -c plat -n "__fish_plat_using_subcommand tenant; and __fish_seen_subcommand_from list" -s V -l version -d 'Print version'
complete -c plat -n "__fish_plat_using_subcommand tenant; and __fish_seen_subcommand_from ls" -s o -l output -d 'Output format: a table for people, JSON or YAML documents for programs' -r -f -a "table\t''
json\t''
yaml\t''"
complete -c plat -n "__fish_plat_using_subcommand tenant; and __fish_seen_subcommand_from ls" -l context -d 'Context (platform connection) to use instead of the current one' -r
complete -c plat -n "__fish_plat_using_subcommand tenant; and __fish_seen_subcommand_from ls" -l account -d 'Account to act in (default: your own)' -r
complete -c plat -n "__fish_plat_using_subcommand tenant; and __fish_seen_subcommand_from ls" -l user -d 'Platform user to act as on an embedded platform (default: the local operator)' -r
complete -c plat -n "__fish_plat_using_subcommand tenant; and __fish_seen_subcommand_from ls" -s q -l quiet -d 'Print only data and errors'
complete -c plat -n "__fish_plat_using_subcommand tenant; and __fish_seen_subcommand_from ls" -s v -l verbose -d 'Say more about what is happening (repeat for more)'
complete -c plat -n "__fish_plat_using_subcommand tenant; and __fish_seen_subcommand_from ls" -l no-input -d 'Never prompt; fail listing every missing value instead'
complete -c plat -n "__fish_plat_using_subcommand tenant; and __fish_seen_subcommand_from ls" -s y -l yes -d 'Answer yes to confirmations'
complete -c plat -n "__fish_plat_using_subcommand tenant; and __fish_seen_subcommand_from ls" -s h -l help -d 'Print help'
complete -c plat -n "__fish_plat_using_subcommand tenant; and __fish_seen_subcommand_from ls" -s V -l version -d 'Print version'
complete -c plat -n "__fish_plat_using_subcommand tenant; and __fish_seen_subcommand_from show" -s o -l output -d 'Output format: a table for people, JSON or YAML documents for programs' -r -f -a "table\t''
json\t''
yaml\t''"
complete -c plat -n "__fish_plat_using_subcommand tenant; and __fish_seen_subcommand_from show" -l context -d 'Context (platform connection) to use instead of the current one' -r
complete -c plat -n "__fish_plat_using_subcommand tenant; and __fish_seen_subcommand_from show" -l account -d 'Account to act in (default: your own)' -r
complete -c plat -n "__fish_plat_using_subcommand tenant; and __fish_seen_subcommand_from show" -l user -d 'Platform user to act as on an embedded platform (default: the local operator)' -r
complete -c plat -n "__fish_plat_using_subcommand tenant; and __fish_seen_subcommand_from show" -s q -l quiet -d 'Print only data and errors'
complete -c plat -n "__fish_plat_using_subcommand tenant; and __fish_seen_subcommand_from show" -s v -l verbose -d 'Say more about what is happening (repeat for more)'
complete -c plat -n "__fish_plat_using_subcommand tenant; and __fish_seen_subcommand_from show" -l no-input -d 'Never prompt; fail listing every missing value instead'
complete -c plat -n "__fish_plat_using_subcommand tenant; and __fish_seen_subcommand_from show" -s y -l yes -d 'Answer yes to confirmations'
complete -c plat -n "__fish_plat_using_subcommand tenant; and __fish_seen_subcommand_from show" -s h -l help -d 'Print help'
complete -c plat -n "__fish_plat_using_subcommand tenant; and __fish_seen_subcommand_from show" -s V -l version -d 'Print version'
complete -c plat -n "__fish_plat_using_subcommand tenant; and __fish_seen_subcommand_from create" -l domain -d 'Domain that resolves to this tenant' -r
complete -c plat -n "__fish_plat_using_subcommand tenant; and __fish_seen_subcommand_from create" -l owner-account -d 'Account that owns the tenant: yours (default) or one of your sub-accounts' -r
complete -c plat -n "__fish_plat_using_subcommand tenant; and __fish_seen_subcommand_from create" -l logo -d 'Logo URL' -r
complete -c plat -n "__fish_plat_using_subcommand tenant; and __fish_seen_subcommand_from create" -l color -d 'Primary colour, e.g. \'#0a7\'' -r
complete -c plat -n "__fish_plat_using_subcommand tenant; and __fish_seen_subcommand_from create" -l secondary-color -d 'Secondary colour' -r
complete -c plat -n "__fish_plat_using_subcommand tenant; and __fish_seen_subcommand_from create" -l description -d 'Description shown by the portal' -r
complete -c plat -n "__fish_plat_using_subcommand tenant; and __fish_seen_subcommand_from create" -l layout -d 'Layout option (repeatable)' -r
complete -c plat -n "__fish_plat_using_subcommand tenant; and __fish_seen_subcommand_from create" -s o -l output -d 'Output format: a table for people, JSON or YAML documents for programs' -r -f -a "table\t''
json\t''
yaml\t''"
complete -c plat -n "__fish_plat_using_subcommand tenant; and __fish_seen_subcommand_from create" -l context -d 'Context (platform connection) to use instead of the current one' -r
complete -c plat -n "__fish_plat_using_subcommand tenant; and __fish_seen_subcommand_from create" -l account -d 'Account to act in (default: your own)' -r
complete -c plat -n "__fish_plat_using_subcommand tenant; and __fish_seen_subcommand_from create" -l user -d 'Platform user to act as on an embedded platform (default: the local operator)' -r
complete -c plat -n "__fish_plat_using_subcommand tenant; and __fish_seen_subcommand_from create" -s q -l quiet -d 'Print only data and errors'
complete -c plat -n "__fish_plat_using_subcommand tenant; and __fish_seen_subcommand_from create" -s v -l verbose -d 'Say more about what is happening (repeat for more)'
complete -c plat -n "__fish_plat_using_subcommand tenant; and __fish_seen_subcommand_from create" -l no-input -d 'Never prompt; fail listing every missing value instead'
complete -c plat -n "__fish_plat_using_subcommand tenant; and __fish_seen_subcommand_from create" -s y -l yes -d 'Answer yes to confirmations'
complete -c plat -n "__fish_plat_using_subcommand tenant; and __fish_seen_subcommand_from create" -s h -l help -d 'Print help'
complete -c plat -n "__fish_plat_using_subcommand tenant; and __fish_seen_subcommand_from create" -s V -l version -d 'Print version'
complete -c plat -n "__fish_plat_using_subcommand tenant; and __fish_seen_subcommand_from update" -l domain -d 'New domain (owner account only)' -r
complete -c plat -n "__fish_plat_using_subcommand tenant; and __fish_seen_subcommand_from update" -l logo -d 'Logo URL' -r
complete -c plat -n "__fish_plat_using_subcommand tenant; and __fish_seen_subcommand_from update" -l color -d 'Primary colour, e.g. \'#0a7\'' -r
complete -c plat -n "__fish_plat_using_subcommand tenant; and __fish_seen_subcommand_from update" -l secondary-color -d 'Secondary colour' -r
complete -c plat -n "__fish_plat_using_subcommand tenant; and __fish_seen_subcommand_from update" -l description -d 'Description shown by the portal' -r
complete -c plat -n "__fish_plat_using_subcommand tenant; and __fish_seen_subcommand_from update" -l layout -d 'Layout option (repeatable)' -r
complete -c plat -n "__fish_plat_using_subcommand tenant; and __fish_seen_subcommand_from update" -s o -l output -d 'Output format: a table for people, JSON or YAML documents for programs' -r -f -a "table\t''
json\t''
yaml\t''"
complete -c plat -n "__fish_plat_using_subcommand tenant; and __fish_seen_subcommand_from update" -l context -d 'Context (platform connection) to use instead of the current one' -r
complete -c plat -n "__fish_plat_using_subcommand tenant; and __fish_seen_subcommand_from update" -l account -d 'Account to act in (default: your own)' -r
complete -c plat -n "__fish_plat_using_subcommand tenant; and __fish_seen_subcommand_from update" -l user -d 'Platform user to act as on an embedded platform (default: the local operator)' -r
complete -c plat -n "__fish_plat_using_subcommand tenant; and __fish_seen_subcommand_from update" -s q -l quiet -d 'Print only data and errors'
complete -c plat -n "__fish_plat_using_subcommand tenant; and __fish_seen_subcommand_from update" -s v -l verbose -d 'Say more about what is happening (repeat for more)'
complete -c plat -n "__fish_plat_using_subcommand tenant; and __fish_seen_subcommand_from update" -l no-input -d 'Never prompt; fail listing every missing value instead'
complete -c plat -n "__fish_plat_using_subcommand tenant; and __fish_seen_subcommand_from update" -s y -l yes -d 'Answer yes to confirmations'
complete -c plat -n "__fish_plat_using_subcommand tenant; and __fish_seen_subcommand_from update" -s h -l help -d 'Print help'
complete -c plat -n "__fish_plat_using_subcommand tenant; and __fish_seen_subcommand_from update" -s V -l version -d 'Print version'
complete -c plat -n "__fish_plat_using_subcommand tenant; and __fish_seen_subcommand_from delete" -s o -l output -d 'Output format: a table for people, JSON or YAML documents for programs' -r -f -a "table\t''
json\t''
yaml\t''"
complete -c plat -n "__fish_plat_using_subcommand tenant; and __fish_seen_subcommand_from delete" -l context -d 'Context (platform connection) to use instead of the current one' -r
complete -c plat -n "__fish_plat_using_subcommand tenant; and __fish_seen_subcommand_from delete" -l account -d 'Account to act in (default: your own)' -r
complete -c plat -n "__fish_plat_using_subcommand tenant; and __fish_seen_subcommand_from delete" -l user -d 'Platform user to act as on an embedded platform (default: the local operator)' -r
complete -c plat -n "__fish_plat_using_subcommand tenant; and __fish_seen_subcommand_from delete" -s q -l quiet -d 'Print only data and errors'
complete -c plat -n "__fish_plat_using_subcommand tenant; and __fish_seen_subcommand_from delete" -s v -l verbose -d 'Say more about what is happening (repeat for more)'
complete -c plat -n "__fish_plat_using_subcommand tenant; and __fish_seen_subcommand_from delete" -l no-input -d 'Never prompt; fail listing every missing value instead'
complete -c plat -n "__fish_plat_using_subcommand tenant; and __fish_seen_subcommand_from delete" -s y -l yes -d 'Answer yes to confirmations'
complete -c plat -n "__fish_plat_using_subcommand tenant; and __fish_seen_subcommand_from delete" -s h -l help -d 'Print help'
complete -c plat -n "__fish_plat_using_subcommand tenant; and __fish_seen_subcommand_from delete" -s V -l version -d 'Print version'
complete -c plat -n "__fish_plat_using_subcommand tenant; and __fish_seen_subcommand_from rm" -s o -l output -d 'Output format: a table for people, JSON or YAML documents for programs' -r -f -a "table\t''
json\t''
yaml\t''"
complete -c plat -n "__fish_plat_using_subcommand tenant; and __fish_seen_subcommand_from rm" -l context -d 'Context (platform connection) to use instead of the current one' -r
complete -c plat -n "__fish_plat_using_subcommand tenant; and __fish_seen_subcommand_from rm" -l account -d 'Account to act in (default: your own)' -r
complete -c plat -n "__fish_plat_using_subcommand tenant; and __fish_seen_subcommand_from rm" -l user -d 'Platform user to act as on an embedded platform (default: the local operator)' -r
complete -c plat -n "__fish_plat_using_subcommand tenant; and __fish_seen_subcommand_from rm" -s q -l quiet -d 'Print only data and errors'
complete -c plat -n "__fish_plat_using_subcommand tenant; and __fish_seen_subcommand_from rm" -s v -l verbose -d 'Say more about what is happening (repeat for more)'
complete -c plat -n "__fish_plat_using_subcommand tenant; and __fish_seen_subcommand_from rm" -l no-input -d 'Never prompt; fail listing every missing value instead'
complete -c plat -n "__fish_plat_using_subcommand tenant; and __fish_seen_subcommand_from rm" -s y -l yes -d 'Answer yes to confirmations'
complete -c plat -n "__fish_plat_using_subcommand tenant; and __fish_seen_subcommand_from rm" -s h -l help -d 'Print help'
complete -c plat -n "__fish_plat_using_subcommand tenant; and __fish_seen_subcommand_from rm" -s V -l version -d 'Print version'
complete -c plat -n "__fish_plat_using_subcommand tenant; and __fish_seen_subcommand_from help" -f -a "list" -d 'List the tenants your account owns or is bound to'
complete -c plat -n "__fish_plat_using_subcommand tenant; and __fish_seen_subcommand_from help" -f -a "show" -d 'Show one tenant'
complete -c plat -n "__fish_plat_using_subcommand tenant; and __fish_seen_subcommand_from help" -f -a "create" -d 'Create a tenant for your sub-accounts'
complete -c plat -n "__fish_plat_using_subcommand tenant; and __fish_seen_subcommand_from help" -f -a "update" -d 'Change a tenant\'s domain or branding'
complete -c plat -n "__fish_plat_using_subcommand tenant; and __fish_seen_subcommand_from help" -f -a "delete" -d 'Delete a tenant no account is bound to'
complete -c plat -n "__fish_plat_using_subcommand tenant; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c plat -n "__fish_plat_using_subcommand user; and not __fish_seen_subcommand_from list ls show create update revoke help" -s o -l output -d 'Output format: a table for people, JSON or YAML documents for programs' -r -f -a "table\t''
json\t''
yaml\t''"
complete -c plat -n "__fish_plat_using_subcommand user; and not __fish_seen_subcommand_from list ls show create update revoke help" -l context -d 'Context (platform connection) to use instead of the current one' -r
complete -c plat -n "__fish_plat_using_subcommand user; and not __fish_seen_subcommand_from list ls show create update revoke help" -l account -d 'Account to act in (default: your own)' -r
complete -c plat -n "__fish_plat_using_subcommand user; and not __fish_seen_subcommand_from list ls show create update revoke help" -l user -d 'Platform user to act as on an embedded platform (default: the local operator)' -r
complete -c plat -n "__fish_plat_using_subcommand user; and not __fish_seen_subcommand_from list ls show create update revoke help" -s q -l quiet -d 'Print only data and errors'
complete -c plat -n "__fish_plat_using_subcommand user; and not __fish_seen_subcommand_from list ls show create update revoke help" -s v -l verbose -d 'Say more about what is happening (repeat for more)'
complete -c plat -n "__fish_plat_using_subcommand user; and not __fish_seen_subcommand_from list ls show create update revoke help" -l no-input -d 'Never prompt; fail listing every missing value instead'
complete -c plat -n "__fish_plat_using_subcommand user; and not __fish_seen_subcommand_from list ls show create update revoke help" -s y -l yes -d 'Answer yes to confirmations'
complete -c plat -n "__fish_plat_using_subcommand user; and not __fish_seen_subcommand_from list ls show create update revoke help" -s h -l help -d 'Print help'
complete -c plat -n "__fish_plat_using_subcommand user; and not __fish_seen_subcommand_from list ls show create update revoke help" -s V -l version -d 'Print version'
complete -c plat -n "__fish_plat_using_subcommand user; and not __fish_seen_subcommand_from list ls show create update revoke help" -f -a "list" -d 'List the users linked to the current account'
complete -c plat -n "__fish_plat_using_subcommand user; and not __fish_seen_subcommand_from list ls show create update revoke help" -f -a "ls" -d 'List the users linked to the current account'
complete -c plat -n "__fish_plat_using_subcommand user; and not __fish_seen_subcommand_from list ls show create update revoke help" -f -a "show" -d 'Show one linked user'
complete -c plat -n "__fish_plat_using_subcommand user; and not __fish_seen_subcommand_from list ls show create update revoke help" -f -a "create" -d 'Link a user to the current account, creating the platform user if needed'
complete -c plat -n "__fish_plat_using_subcommand user; and not __fish_seen_subcommand_from list ls show create update revoke help" -f -a "update" -d 'Change your own display name (users own themselves)'
complete -c plat -n "__fish_plat_using_subcommand user; and not __fish_seen_subcommand_from list ls show create update revoke help" -f -a "revoke" -d 'Remove a user\'s access to the current account; the user is kept'
complete -c plat -n "__fish_plat_using_subcommand user; and not __fish_seen_subcommand_from list ls show create update revoke help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c plat -n "__fish_plat_using_subcommand user; and __fish_seen_subcommand_from list" -s o -l output -d 'Output format: a table for people, JSON or YAML documents for programs' -r -f -a "table\t''
json\t''
yaml\t''"
complete -c plat -n "__fish_plat_using_subcommand user; and __fish_seen_subcommand_from list" -l context -d 'Context (platform connection) to use instead of the current one' -r
complete -c plat -n "__fish_plat_using_subcommand user; and __fish_seen_subcommand_from list" -l account -d 'Account to act in (default: your own)' -r
complete -c plat -n "__fish_plat_using_subcommand user; and __fish_seen_subcommand_from list" -l user -d 'Platform user to act as on an embedded platform (default: the local operator)' -r
complete -c plat -n "__fish_plat_using_subcommand user; and __fish_seen_subcommand_from list" -s q -l quiet -d 'Print only data and errors'
complete -c plat -n "__fish_plat_using_subcommand user; and __fish_seen_subcommand_from list" -s v -l verbose -d 'Say more about what is happening (repeat for more)'
complete -c plat -n "__fish_plat_using_subcommand user; and __fish_seen_subcommand_from list" -l no-input -d 'Never prompt; fail listing every missing value instead'
complete -c plat -n "__fish_plat_using_subcommand user; and __fish_seen_subcommand_from list" -s y -l yes -d 'Answer yes to confirmations'
complete -c plat -n "__fish_plat_using_subcommand user; and __fish_seen_subcommand_from list" -s h -l help -d 'Print help'
complete -c plat -n "__fish_plat_using_subcommand user; and __fish_seen_subcommand_from list" -s V -l version -d 'Print version'
complete -c plat -n "__fish_plat_using_subcommand user; and __fish_seen_subcommand_from ls" -s o -l output -d 'Output format: a table for people, JSON or YAML documents for programs' -r -f -a "table\t''
json\t''
yaml\t''"
complete -c plat -n "__fish_plat_using_subcommand user; and __fish_seen_subcommand_from ls" -l context -d 'Context (platform connection) to use instead of the current one' -r
complete -c plat -n "__fish_plat_using_subcommand user; and __fish_seen_subcommand_from ls" -l account -d 'Account to act in (default: your own)' -r
complete -c plat -n "__fish_plat_using_subcommand user; and __fish_seen_subcommand_from ls" -l user -d 'Platform user to act as on an embedded platform (default: the local operator)' -r
complete -c plat -n "__fish_plat_using_subcommand user; and __fish_seen_subcommand_from ls" -s q -l quiet -d 'Print only data and errors'
complete -c plat -n "__fish_plat_using_subcommand user; and __fish_seen_subcommand_from ls" -s v -l verbose -d 'Say more about what is happening (repeat for more)'
complete -c plat -n "__fish_plat_using_subcommand user; and __fish_seen_subcommand_from ls" -l no-input -d 'Never prompt; fail listing every missing value instead'
complete -c plat -n "__fish_plat_using_subcommand user; and __fish_seen_subcommand_from ls" -s y -l yes -d 'Answer yes to confirmations'
complete -c plat -n "__fish_plat_using_subcommand user; and __fish_seen_subcommand_from ls" -s h -l help -d 'Print help'
complete -c plat -n "__fish_plat_using_subcommand user; and __fish_seen_subcommand_from ls" -s V -l version -d 'Print version'
complete -c plat -n "__fish_plat_using_subcommand user; and __fish_seen_subcommand_from show" -s o -l output -d 'Output format: a table for people, JSON or YAML documents for programs' -r -f -a "table\t''
json\t''
yaml\t''"
complete -c plat -n "__fish_plat_using_subcommand user; and __fish_seen_subcommand_from show" -l context -d 'Context (platform connection) to use instead of the current one' -r
complete -c plat -n "__fish_plat_using_subcommand user; and __fish_seen_subcommand_from show" -l account -d 'Account to act in (default: your own)' -r
complete -c plat -n "__fish_plat_using_subcommand user; and __fish_seen_subcommand_from show" -l user -d 'Platform user to act as on an embedded platform (default: the local operator)' -r
complete -c plat -n "__fish_plat_using_subcommand user; and __fish_seen_subcommand_from show" -s q -l quiet -d 'Print only data and errors'
complete -c plat -n "__fish_plat_using_subcommand user; and __fish_seen_subcommand_from show" -s v -l verbose -d 'Say more about what is happening (repeat for more)'
complete -c plat -n "__fish_plat_using_subcommand user; and __fish_seen_subcommand_from show" -l no-input -d 'Never prompt; fail listing every missing value instead'
complete -c plat -n "__fish_plat_using_subcommand user; and __fish_seen_subcommand_from show" -s y -l yes -d 'Answer yes to confirmations'
complete -c plat -n "__fish_plat_using_subcommand user; and __fish_seen_subcommand_from show" -s h -l help -d 'Print help'
complete -c plat -n "__fish_plat_using_subcommand user; and __fish_seen_subcommand_from show" -s V -l version -d 'Print version'
complete -c plat -n "__fish_plat_using_subcommand user; and __fish_seen_subcommand_from create" -l name -d 'Display name' -r
complete -c plat -n "__fish_plat_using_subcommand user; and __fish_seen_subcommand_from create" -l group -d 'Group to add the user to (repeatable)' -r
complete -c plat -n "__fish_plat_using_subcommand user; and __fish_seen_subcommand_from create" -s o -l output -d 'Output format: a table for people, JSON or YAML documents for programs' -r -f -a "table\t''
json\t''
yaml\t''"
complete -c plat -n "__fish_plat_using_subcommand user; and __fish_seen_subcommand_from create" -l context -d 'Context (platform connection) to use instead of the current one' -r
complete -c plat -n "__fish_plat_using_subcommand user; and __fish_seen_subcommand_from create" -l account -d 'Account to act in (default: your own)' -r
complete -c plat -n "__fish_plat_using_subcommand user; and __fish_seen_subcommand_from create" -l user -d 'Platform user to act as on an embedded platform (default: the local operator)' -r
complete -c plat -n "__fish_plat_using_subcommand user; and __fish_seen_subcommand_from create" -s q -l quiet -d 'Print only data and errors'
complete -c plat -n "__fish_plat_using_subcommand user; and __fish_seen_subcommand_from create" -s v -l verbose -d 'Say more about what is happening (repeat for more)'
complete -c plat -n "__fish_plat_using_subcommand user; and __fish_seen_subcommand_from create" -l no-input -d 'Never prompt; fail listing every missing value instead'
complete -c plat -n "__fish_plat_using_subcommand user; and __fish_seen_subcommand_from create" -s y -l yes -d 'Answer yes to confirmations'
complete -c plat -n "__fish_plat_using_subcommand user; and __fish_seen_subcommand_from create" -s h -l help -d 'Print help'
complete -c plat -n "__fish_plat_using_subcommand user; and __fish_seen_subcommand_from create" -s V -l version -d 'Print version'
complete -c plat -n "__fish_plat_using_subcommand user; and __fish_seen_subcommand_from update" -l name -d 'New display name' -r
complete -c plat -n "__fish_plat_using_subcommand user; and __fish_seen_subcommand_from update" -s o -l output -d 'Output format: a table for people, JSON or YAML documents for programs' -r -f -a "table\t''
json\t''
yaml\t''"
complete -c plat -n "__fish_plat_using_subcommand user; and __fish_seen_subcommand_from update" -l context -d 'Context (platform connection) to use instead of the current one' -r
complete -c plat -n "__fish_plat_using_subcommand user; and __fish_seen_subcommand_from update" -l account -d 'Account to act in (default: your own)' -r
complete -c plat -n "__fish_plat_using_subcommand user; and __fish_seen_subcommand_from update" -l user -d 'Platform user to act as on an embedded platform (default: the local operator)' -r
complete -c plat -n "__fish_plat_using_subcommand user; and __fish_seen_subcommand_from update" -s q -l quiet -d 'Print only data and errors'
complete -c plat -n "__fish_plat_using_subcommand user; and __fish_seen_subcommand_from update" -s v -l verbose -d 'Say more about what is happening (repeat for more)'
complete -c plat -n "__fish_plat_using_subcommand user; and __fish_seen_subcommand_from update" -l no-input -d 'Never prompt; fail listing every missing value instead'
complete -c plat -n "__fish_plat_using_subcommand user; and __fish_seen_subcommand_from update" -s y -l yes -d 'Answer yes to confirmations'
complete -c plat -n "__fish_plat_using_subcommand user; and __fish_seen_subcommand_from update" -s h -l help -d 'Print help'
complete -c plat -n "__fish_plat_using_subcommand user; and __fish_seen_subcommand_from update" -s V -l version -d 'Print version'
complete -c plat -n "__fish_plat_using_subcommand user; and __fish_seen_subcommand_from revoke" -s o -l output -d 'Output format: a table for people, JSON or YAML documents for programs' -r -f -a "table\t''
json\t''
yaml\t''"
complete -c plat -n "__fish_plat_using_subcommand user; and __fish_seen_subcommand_from revoke" -l context -d 'Context (platform connection) to use instead of the current one' -r
complete -c plat -n "__fish_plat_using_subcommand user; and __fish_seen_subcommand_from revoke" -l account -d 'Account to act in (default: your own)' -r
complete -c plat -n "__fish_plat_using_subcommand user; and __fish_seen_subcommand_from revoke" -l user -d 'Platform user to act as on an embedded platform (default: the local operator)' -r
complete -c plat -n "__fish_plat_using_subcommand user; and __fish_seen_subcommand_from revoke" -s q -l quiet -d 'Print only data and errors'
complete -c plat -n "__fish_plat_using_subcommand user; and __fish_seen_subcommand_from revoke" -s v -l verbose -d 'Say more about what is happening (repeat for more)'
complete -c plat -n "__fish_plat_using_subcommand user; and __fish_seen_subcommand_from revoke" -l no-input -d 'Never prompt; fail listing every missing value instead'
complete -c plat -n "__fish_plat_using_subcommand user; and __fish_seen_subcommand_from revoke" -s y -l yes -d 'Answer yes to confirmations'
complete -c plat -n "__fish_plat_using_subcommand user; and __fish_seen_subcommand_from revoke" -s h -l help -d 'Print help'
complete -c plat -n "__fish_plat_using_subcommand user; and __fish_seen_subcommand_from revoke" -s V -l version -d 'Print version'
complete -c plat -n "__fish_plat_using_subcommand user; and __fish_seen_subcommand_from help" -f -a "list" -d 'List the users linked to the current account'
complete -c plat -n "__fish_plat_using_subcommand user; and __fish_seen_subcommand_from help" -f -a "show" -d 'Show one linked user'
complete -c plat -n "__fish_plat_using_subcommand user; and __fish_seen_subcommand_from help" -f -a "create" -d 'Link a user to the current account, creating the platform user if needed'
complete -c plat -n "__fish_plat_using_subcommand user; and __fish_seen_subcommand_from help" -f -a "update" -d 'Change your own display name (users own themselves)'
complete -c plat -n "__fish_plat_using_subcommand user; and __fish_seen_subcommand_from help" -f -a "revoke" -d 'Remove a user\'s access to the current account; the user is kept'
complete -c plat -n "__fish_plat_using_subcommand user; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c plat -n "__fish_plat_using_subcommand group; and not __fish_seen_subcommand_from list ls show create update delete rm add-member remove-member link-idp unlink-idp permissions help" -s o -l output -d 'Output format: a table for people, JSON or YAML documents for programs' -r -f -a "table\t''
json\t''
yaml\t''"
complete -c plat -n "__fish_plat_using_subcommand group; and not __fish_seen_subcommand_from list ls show create update delete rm add-member remove-member link-idp unlink-idp permissions help" -l context -d 'Context (platform connection) to use instead of the current one' -r
complete -c plat -n "__fish_plat_using_subcommand group; and not __fish_seen_subcommand_from list ls show create update delete rm add-member remove-member link-idp unlink-idp permissions help" -l account -d 'Account to act in (default: your own)' -r
complete -c plat -n "__fish_plat_using_subcommand group; and not __fish_seen_subcommand_from list ls show create update delete rm add-member remove-member link-idp unlink-idp permissions help" -l user -d 'Platform user to act as on an embedded platform (default: the local operator)' -r
complete -c plat -n "__fish_plat_using_subcommand group; and not __fish_seen_subcommand_from list ls show create update delete rm add-member remove-member link-idp unlink-idp permissions help" -s q -l quiet -d 'Print only data and errors'
complete -c plat -n "__fish_plat_using_subcommand group; and not __fish_seen_subcommand_from list ls show create update delete rm add-member remove-member link-idp unlink-idp permissions help" -s v -l verbose -d 'Say more about what is happening (repeat for more)'
complete -c plat -n "__fish_plat_using_subcommand group; and not __fish_seen_subcommand_from list ls show create update delete rm add-member remove-member link-idp unlink-idp permissions help" -l no-input -d 'Never prompt; fail listing every missing value instead'
complete -c plat -n "__fish_plat_using_subcommand group; and not __fish_seen_subcommand_from list ls show create update delete rm add-member remove-member link-idp unlink-idp permissions help" -s y -l yes -d 'Answer yes to confirmations'
complete -c plat -n "__fish_plat_using_subcommand group; and not __fish_seen_subcommand_from list ls show create update delete rm add-member remove-member link-idp unlink-idp permissions help" -s h -l help -d 'Print help'
complete -c plat -n "__fish_plat_using_subcommand group; and not __fish_seen_subcommand_from list ls show create update delete rm add-member remove-member link-idp unlink-idp permissions help" -s V -l version -d 'Print version'
complete -c plat -n "__fish_plat_using_subcommand group; and not __fish_seen_subcommand_from list ls show create update delete rm add-member remove-member link-idp unlink-idp permissions help" -f -a "list" -d 'List the current account\'s groups'
complete -c plat -n "__fish_plat_using_subcommand group; and not __fish_seen_subcommand_from list ls show create update delete rm add-member remove-member link-idp unlink-idp permissions help" -f -a "ls" -d 'List the current account\'s groups'
complete -c plat -n "__fish_plat_using_subcommand group; and not __fish_seen_subcommand_from list ls show create update delete rm add-member remove-member link-idp unlink-idp permissions help" -f -a "show" -d 'Show one group with its permissions and members'
complete -c plat -n "__fish_plat_using_subcommand group; and not __fish_seen_subcommand_from list ls show create update delete rm add-member remove-member link-idp unlink-idp permissions help" -f -a "create" -d 'Create a group with permissions'
complete -c plat -n "__fish_plat_using_subcommand group; and not __fish_seen_subcommand_from list ls show create update delete rm add-member remove-member link-idp unlink-idp permissions help" -f -a "update" -d 'Add or remove permissions of a group'
complete -c plat -n "__fish_plat_using_subcommand group; and not __fish_seen_subcommand_from list ls show create update delete rm add-member remove-member link-idp unlink-idp permissions help" -f -a "delete" -d 'Delete a group (predefined groups stay)'
complete -c plat -n "__fish_plat_using_subcommand group; and not __fish_seen_subcommand_from list ls show create update delete rm add-member remove-member link-idp unlink-idp permissions help" -f -a "rm" -d 'Delete a group (predefined groups stay)'
complete -c plat -n "__fish_plat_using_subcommand group; and not __fish_seen_subcommand_from list ls show create update delete rm add-member remove-member link-idp unlink-idp permissions help" -f -a "add-member" -d 'Add a linked user to a group'
complete -c plat -n "__fish_plat_using_subcommand group; and not __fish_seen_subcommand_from list ls show create update delete rm add-member remove-member link-idp unlink-idp permissions help" -f -a "remove-member" -d 'Remove a user from a group'
complete -c plat -n "__fish_plat_using_subcommand group; and not __fish_seen_subcommand_from list ls show create update delete rm add-member remove-member link-idp unlink-idp permissions help" -f -a "link-idp" -d 'Give the members of an identity-provider group this group\'s permissions'
complete -c plat -n "__fish_plat_using_subcommand group; and not __fish_seen_subcommand_from list ls show create update delete rm add-member remove-member link-idp unlink-idp permissions help" -f -a "unlink-idp" -d 'Remove an identity-provider group\'s link to this group'
complete -c plat -n "__fish_plat_using_subcommand group; and not __fish_seen_subcommand_from list ls show create update delete rm add-member remove-member link-idp unlink-idp permissions help" -f -a "permissions" -d 'List every permission a group can hold'
complete -c plat -n "__fish_plat_using_subcommand group; and not __fish_seen_subcommand_from list ls show create update delete rm add-member remove-member link-idp unlink-idp permissions help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c plat -n "__fish_plat_using_subcommand group; and __fish_seen_subcommand_from list" -s o -l output -d 'Output format: a table for people, JSON or YAML documents for programs' -r -f -a "table\t''
json\t''
yaml\t''"
complete -c plat -n "__fish_plat_using_subcommand group; and __fish_seen_subcommand_from list" -l context -d 'Context (platform connection) to use instead of the current one' -r
complete -c plat -n "__fish_plat_using_subcommand group; and __fish_seen_subcommand_from list" -l account -d 'Account to act in (default: your own)' -r
complete -c plat -n "__fish_plat_using_subcommand group; and __fish_seen_subcommand_from list" -l user -d 'Platform user to act as on an embedded platform (default: the local operator)' -r
complete -c plat -n "__fish_plat_using_subcommand group; and __fish_seen_subcommand_from list" -s q -l quiet -d 'Print only data and errors'
complete -c plat -n "__fish_plat_using_subcommand group; and __fish_seen_subcommand_from list" -s v -l verbose -d 'Say more about what is happening (repeat for more)'
complete -c plat -n "__fish_plat_using_subcommand group; and __fish_seen_subcommand_from list" -l no-input -d 'Never prompt; fail listing every missing value instead'
complete -c plat -n "__fish_plat_using_subcommand group; and __fish_seen_subcommand_from list" -s y -l yes -d 'Answer yes to confirmations'
complete -c plat -n "__fish_plat_using_subcommand group; and __fish_seen_subcommand_from list" -s h -l help -d 'Print help'
complete -c plat -n "__fish_plat_using_subcommand group; and __fish_seen_subcommand_from list" -s V -l version -d 'Print version'
complete -c plat -n "__fish_plat_using_subcommand group; and __fish_seen_subcommand_from ls" -s o -l output -d 'Output format: a table for people, JSON or YAML documents for programs' -r -f -a "table\t''
json\t''
yaml\t''"
complete -c plat -n "__fish_plat_using_subcommand group; and __fish_seen_subcommand_from ls" -l context -d 'Context (platform connection) to use instead of the current one' -r
complete -c plat -n "__fish_plat_using_subcommand group; and __fish_seen_subcommand_from ls" -l account -d 'Account to act in (default: your own)' -r
complete -c plat -n "__fish_plat_using_subcommand group; and __fish_seen_subcommand_from ls" -l user -d 'Platform user to act as on an embedded platform (default: the local operator)' -r
complete -c plat -n "__fish_plat_using_subcommand group; and __fish_seen_subcommand_from ls" -s q -l quiet -d 'Print only data and errors'
complete -c plat -n "__fish_plat_using_subcommand group; and __fish_seen_subcommand_from ls" -s v -l verbose -d 'Say more about what is happening (repeat for more)'
complete -c plat -n "__fish_plat_using_subcommand group; and __fish_seen_subcommand_from ls" -l no-input -d 'Never prompt; fail listing every missing value instead'
complete -c plat -n "__fish_plat_using_subcommand group; and __fish_seen_subcommand_from ls" -s y -l yes -d 'Answer yes to confirmations'
complete -c plat -n "__fish_plat_using_subcommand group; and __fish_seen_subcommand_from ls" -s h -l help -d 'Print help'
complete -c plat -n "__fish_plat_using_subcommand group; and __fish_seen_subcommand_from ls" -s V -l version -d 'Print version'
complete -c plat -n "__fish_plat_using_subcommand group; and __fish_seen_subcommand_from show" -s o -l output -d 'Output format: a table for people, JSON or YAML documents for programs' -r -f -a "table\t''
json\t''
yaml\t''"
complete -c plat -n "__fish_plat_using_subcommand group; and __fish_seen_subcommand_from show" -l context -d 'Context (platform connection) to use instead of the current one' -r
complete -c plat -n "__fish_plat_using_subcommand group; and __fish_seen_subcommand_from show" -l account -d 'Account to act in (default: your own)' -r
complete -c plat -n "__fish_plat_using_subcommand group; and __fish_seen_subcommand_from show" -l user -d 'Platform user to act as on an embedded platform (default: the local operator)' -r
complete -c plat -n "__fish_plat_using_subcommand group; and __fish_seen_subcommand_from show" -s q -l quiet -d 'Print only data and errors'
complete -c plat -n "__fish_plat_using_subcommand group; and __fish_seen_subcommand_from show" -s v -l verbose -d 'Say more about what is happening (repeat for more)'
complete -c plat -n "__fish_plat_using_subcommand group; and __fish_seen_subcommand_from show" -l no-input -d 'Never prompt; fail listing every missing value instead'
complete -c plat -n "__fish_plat_using_subcommand group; and __fish_seen_subcommand_from show" -s y -l yes -d 'Answer yes to confirmations'
complete -c plat -n "__fish_plat_using_subcommand group; and __fish_seen_subcommand_from show" -s h -l help -d 'Print help'
complete -c plat -n "__fish_plat_using_subcommand group; and __fish_seen_subcommand_from show" -s V -l version -d 'Print version'
complete -c plat -n "__fish_plat_using_subcommand group; and __fish_seen_subcommand_from create" -l permission -d 'Permission to grant (repeatable), e.g. envs:write' -r
complete -c plat -n "__fish_plat_using_subcommand group; and __fish_seen_subcommand_from create" -s o -l output -d 'Output format: a table for people, JSON or YAML documents for programs' -r -f -a "table\t''
json\t''
yaml\t''"
complete -c plat -n "__fish_plat_using_subcommand group; and __fish_seen_subcommand_from create" -l context -d 'Context (platform connection) to use instead of the current one' -r
complete -c plat -n "__fish_plat_using_subcommand group; and __fish_seen_subcommand_from create" -l account -d 'Account to act in (default: your own)' -r
complete -c plat -n "__fish_plat_using_subcommand group; and __fish_seen_subcommand_from create" -l user -d 'Platform user to act as on an embedded platform (default: the local operator)' -r
complete -c plat -n "__fish_plat_using_subcommand group; and __fish_seen_subcommand_from create" -s q -l quiet -d 'Print only data and errors'
complete -c plat -n "__fish_plat_using_subcommand group; and __fish_seen_subcommand_from create" -s v -l verbose -d 'Say more about what is happening (repeat for more)'
complete -c plat -n "__fish_plat_using_subcommand group; and __fish_seen_subcommand_from create" -l no-input -d 'Never prompt; fail listing every missing value instead'
complete -c plat -n "__fish_plat_using_subcommand group; and __fish_seen_subcommand_from create" -s y -l yes -d 'Answer yes to confirmations'
complete -c plat -n "__fish_plat_using_subcommand group; and __fish_seen_subcommand_from create" -s h -l help -d 'Print help'
complete -c plat -n "__fish_plat_using_subcommand group; and __fish_seen_subcommand_from create" -s V -l version -d 'Print version'
complete -c plat -n "__fish_plat_using_subcommand group; and __fish_seen_subcommand_from update" -l add-permission -d 'Permission to add (repeatable)' -r
complete -c plat -n "__fish_plat_using_subcommand group; and __fish_seen_subcommand_from update" -l remove-permission -d 'Permission to remove (repeatable)' -r
complete -c plat -n "__fish_plat_using_subcommand group; and __fish_seen_subcommand_from update" -s o -l output -d 'Output format: a table for people, JSON or YAML documents for programs' -r -f -a "table\t''
json\t''
yaml\t''"
complete -c plat -n "__fish_plat_using_subcommand group; and __fish_seen_subcommand_from update" -l context -d 'Context (platform connection) to use instead of the current one' -r
complete -c plat -n "__fish_plat_using_subcommand group; and __fish_seen_subcommand_from update" -l account -d 'Account to act in (default: your own)' -r
complete -c plat -n "__fish_plat_using_subcommand group; and __fish_seen_subcommand_from update" -l user -d 'Platform user to act as on an embedded platform (default: the local operator)' -r
complete -c plat -n "__fish_plat_using_subcommand group; and __fish_seen_subcommand_from update" -s q -l quiet -d 'Print only data and errors'
complete -c plat -n "__fish_plat_using_subcommand group; and __fish_seen_subcommand_from update" -s v -l verbose -d 'Say more about what is happening (repeat for more)'
complete -c plat -n "__fish_plat_using_subcommand group; and __fish_seen_subcommand_from update" -l no-input -d 'Never prompt; fail listing every missing value instead'
complete -c plat -n "__fish_plat_using_subcommand group; and __fish_seen_subcommand_from update" -s y -l yes -d 'Answer yes to confirmations'
complete -c plat -n "__fish_plat_using_subcommand group; and __fish_seen_subcommand_from update" -s h -l help -d 'Print help'
complete -c plat -n "__fish_plat_using_subcommand group; and __fish_seen_subcommand_from update" -s V -l version -d 'Print version'
complete -c plat -n "__fish_plat_using_subcommand group; and __fish_seen_subcommand_from delete" -s o -l output -d 'Output format: a table for people, JSON or YAML documents for programs' -r -f -a "table\t''
json\t''
yaml\t''"
complete -c plat -n "__fish_plat_using_subcommand group; and __fish_seen_subcommand_from delete" -l context -d 'Context (platform connection) to use instead of the current one' -r
complete -c plat -n "__fish_plat_using_subcommand group; and __fish_seen_subcommand_from delete" -l account -d 'Account to act in (default: your own)' -r
complete -c plat -n "__fish_plat_using_subcommand group; and __fish_seen_subcommand_from delete" -l user -d 'Platform user to act as on an embedded platform (default: the local operator)' -r
complete -c plat -n "__fish_plat_using_subcommand group; and __fish_seen_subcommand_from delete" -s q -l quiet -d 'Print only data and errors'
complete -c plat -n "__fish_plat_using_subcommand group; and __fish_seen_subcommand_from delete" -s v -l verbose -d 'Say more about what is happening (repeat for more)'
complete -c plat -n "__fish_plat_using_subcommand group; and __fish_seen_subcommand_from delete" -l no-input -d 'Never prompt; fail listing every missing value instead'
complete -c plat -n "__fish_plat_using_subcommand group; and __fish_seen_subcommand_from delete" -s y -l yes -d 'Answer yes to confirmations'
complete -c plat -n "__fish_plat_using_subcommand group; and __fish_seen_subcommand_from delete" -s h -l help -d 'Print help'
complete -c plat -n "__fish_plat_using_subcommand group; and __fish_seen_subcommand_from delete" -s V -l version -d 'Print version'
complete -c plat -n "__fish_plat_using_subcommand group; and __fish_seen_subcommand_from rm" -s o -l output -d 'Output format: a table for people, JSON or YAML documents for programs' -r -f -a "table\t''
json\t''
yaml\t''"
complete -c plat -n "__fish_plat_using_subcommand group; and __fish_seen_subcommand_from rm" -l context -d 'Context (platform connection) to use instead of the current one' -r
complete -c plat -n "__fish_plat_using_subcommand group; and __fish_seen_subcommand_from rm" -l account -d 'Account to act in (default: your own)' -r
complete -c plat -n "__fish_plat_using_subcommand group; and __fish_seen_subcommand_from rm" -l user -d 'Platform user to act as on an embedded platform (default: the local operator)' -r
complete -c plat -n "__fish_plat_using_subcommand group; and __fish_seen_subcommand_from rm" -s q -l quiet -d 'Print only data and errors'
complete -c plat -n "__fish_plat_using_subcommand group; and __fish_seen_subcommand_from rm" -s v -l verbose -d 'Say more about what is happening (repeat for more)'
complete -c plat -n "__fish_plat_using_subcommand group; and __fish_seen_subcommand_from rm" -l no-input -d 'Never prompt; fail listing every missing value instead'
complete -c plat -n "__fish_plat_using_subcommand group; and __fish_seen_subcommand_from rm" -s y -l yes -d 'Answer yes to confirmations'
complete -c plat -n "__fish_plat_using_subcommand group; and __fish_seen_subcommand_from rm" -s h -l help -d 'Print help'
complete -c plat -n "__fish_plat_using_subcommand group; and __fish_seen_subcommand_from rm" -s V -l version -d 'Print version'
complete -c plat -n "__fish_plat_using_subcommand group; and __fish_seen_subcommand_from add-member" -s o -l output -d 'Output format: a table for people, JSON or YAML documents for programs' -r -f -a "table\t''
json\t''
yaml\t''"
complete -c plat -n "__fish_plat_using_subcommand group; and __fish_seen_subcommand_from add-member" -l context -d 'Context (platform connection) to use instead of the current one' -r
complete -c plat -n "__fish_plat_using_subcommand group; and __fish_seen_subcommand_from add-member" -l account -d 'Account to act in (default: your own)' -r
complete -c plat -n "__fish_plat_using_subcommand group; and __fish_seen_subcommand_from add-member" -l user -d 'Platform user to act as on an embedded platform (default: the local operator)' -r
complete -c plat -n "__fish_plat_using_subcommand group; and __fish_seen_subcommand_from add-member" -s q -l quiet -d 'Print only data and errors'
complete -c plat -n "__fish_plat_using_subcommand group; and __fish_seen_subcommand_from add-member" -s v -l verbose -d 'Say more about what is happening (repeat for more)'
complete -c plat -n "__fish_plat_using_subcommand group; and __fish_seen_subcommand_from add-member" -l no-input -d 'Never prompt; fail listing every missing value instead'
complete -c plat -n "__fish_plat_using_subcommand group; and __fish_seen_subcommand_from add-member" -s y -l yes -d 'Answer yes to confirmations'
complete -c plat -n "__fish_plat_using_subcommand group; and __fish_seen_subcommand_from add-member" -s h -l help -d 'Print help'
complete -c plat -n "__fish_plat_using_subcommand group; and __fish_seen_subcommand_from add-member" -s V -l version -d 'Print version'
complete -c plat -n "__fish_plat_using_subcommand group; and __fish_seen_subcommand_from remove-member" -s o -l output -d 'Output format: a table for people, JSON or YAML documents for programs' -r -f -a "table\t''
json\t''
yaml\t''"
complete -c plat -n "__fish_plat_using_subcommand group; and __fish_seen_subcommand_from remove-member" -l context -d 'Context (platform connection) to use instead of the current one' -r
complete -c plat -n "__fish_plat_using_subcommand group; and __fish_seen_subcommand_from remove-member" -l account -d 'Account to act in (default: your own)' -r
complete -c plat -n "__fish_plat_using_subcommand group; and __fish_seen_subcommand_from remove-member" -l user -d 'Platform user to act as on an embedded platform (default: the local operator)' -r
complete -c plat -n "__fish_plat_using_subcommand group; and __fish_seen_subcommand_from remove-member" -s q -l quiet -d 'Print only data and errors'
complete -c plat -n "__fish_plat_using_subcommand group; and __fish_seen_subcommand_from remove-member" -s v -l verbose -d 'Say more about what is happening (repeat for more)'
complete -c plat -n "__fish_plat_using_subcommand group; and __fish_seen_subcommand_from remove-member" -l no-input -d 'Never prompt; fail listing every missing value instead'
complete -c plat -n "__fish_plat_using_subcommand group; and __fish_seen_subcommand_from remove-member" -s y -l yes -d 'Answer yes to confirmations'
complete -c plat -n "__fish_plat_using_subcommand group; and __fish_seen_subcommand_from remove-member" -s h -l help -d 'Print help'
complete -c plat -n "__fish_plat_using_subcommand group; and __fish_seen_subcommand_from remove-member" -s V -l version -d 'Print version'
complete -c plat -n "__fish_plat_using_subcommand group; and __fish_seen_subcommand_from link-idp" -l idp-group -d 'The IdP group as the server\'s groups claim names it, e.g. /acme/release' -r
complete -c plat -n "__fish_plat_using_subcommand group; and __fish_seen_subcommand_from link-idp" -s o -l output -d 'Output format: a table for people, JSON or YAML documents for programs' -r -f -a "table\t''
json\t''
yaml\t''"
complete -c plat -n "__fish_plat_using_subcommand group; and __fish_seen_subcommand_from link-idp" -l context -d 'Context (platform connection) to use instead of the current one' -r
complete -c plat -n "__fish_plat_using_subcommand group; and __fish_seen_subcommand_from link-idp" -l account -d 'Account to act in (default: your own)' -r
complete -c plat -n "__fish_plat_using_subcommand group; and __fish_seen_subcommand_from link-idp" -l user -d 'Platform user to act as on an embedded platform (default: the local operator)' -r
complete -c plat -n "__fish_plat_using_subcommand group; and __fish_seen_subcommand_from link-idp" -s q -l quiet -d 'Print only data and errors'
complete -c plat -n "__fish_plat_using_subcommand group; and __fish_seen_subcommand_from link-idp" -s v -l verbose -d 'Say more about what is happening (repeat for more)'
complete -c plat -n "__fish_plat_using_subcommand group; and __fish_seen_subcommand_from link-idp" -l no-input -d 'Never prompt; fail listing every missing value instead'
complete -c plat -n "__fish_plat_using_subcommand group; and __fish_seen_subcommand_from link-idp" -s y -l yes -d 'Answer yes to confirmations'
complete -c plat -n "__fish_plat_using_subcommand group; and __fish_seen_subcommand_from link-idp" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c plat -n "__fish_plat_using_subcommand group; and __fish_seen_subcommand_from link-idp" -s V -l version -d 'Print version'
complete -c plat -n "__fish_plat_using_subcommand group; and __fish_seen_subcommand_from unlink-idp" -l idp-group -d 'The IdP group as the server\'s groups claim names it, e.g. /acme/release' -r
complete -c plat -n "__fish_plat_using_subcommand group; and __fish_seen_subcommand_from unlink-idp" -s o -l output -d 'Output format: a table for people, JSON or YAML documents for programs' -r -f -a "table\t''
json\t''
yaml\t''"
complete -c plat -n "__fish_plat_using_subcommand group; and __fish_seen_subcommand_from unlink-idp" -l context -d 'Context (platform connection) to use instead of the current one' -r
complete -c plat -n "__fish_plat_using_subcommand group; and __fish_seen_subcommand_from unlink-idp" -l account -d 'Account to act in (default: your own)' -r
complete -c plat -n "__fish_plat_using_subcommand group; and __fish_seen_subcommand_from unlink-idp" -l user -d 'Platform user to act as on an embedded platform (default: the local operator)' -r
complete -c plat -n "__fish_plat_using_subcommand group; and __fish_seen_subcommand_from unlink-idp" -s q -l quiet -d 'Print only data and errors'
complete -c plat -n "__fish_plat_using_subcommand group; and __fish_seen_subcommand_from unlink-idp" -s v -l verbose -d 'Say more about what is happening (repeat for more)'
complete -c plat -n "__fish_plat_using_subcommand group; and __fish_seen_subcommand_from unlink-idp" -l no-input -d 'Never prompt; fail listing every missing value instead'
complete -c plat -n "__fish_plat_using_subcommand group; and __fish_seen_subcommand_from unlink-idp" -s y -l yes -d 'Answer yes to confirmations'
complete -c plat -n "__fish_plat_using_subcommand group; and __fish_seen_subcommand_from unlink-idp" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c plat -n "__fish_plat_using_subcommand group; and __fish_seen_subcommand_from unlink-idp" -s V -l version -d 'Print version'
complete -c plat -n "__fish_plat_using_subcommand group; and __fish_seen_subcommand_from permissions" -s o -l output -d 'Output format: a table for people, JSON or YAML documents for programs' -r -f -a "table\t''
json\t''
yaml\t''"
complete -c plat -n "__fish_plat_using_subcommand group; and __fish_seen_subcommand_from permissions" -l context -d 'Context (platform connection) to use instead of the current one' -r
complete -c plat -n "__fish_plat_using_subcommand group; and __fish_seen_subcommand_from permissions" -l account -d 'Account to act in (default: your own)' -r
complete -c plat -n "__fish_plat_using_subcommand group; and __fish_seen_subcommand_from permissions" -l user -d 'Platform user to act as on an embedded platform (default: the local operator)' -r
complete -c plat -n "__fish_plat_using_subcommand group; and __fish_seen_subcommand_from permissions" -s q -l quiet -d 'Print only data and errors'
complete -c plat -n "__fish_plat_using_subcommand group; and __fish_seen_subcommand_from permissions" -s v -l verbose -d 'Say more about what is happening (repeat for more)'
complete -c plat -n "__fish_plat_using_subcommand group; and __fish_seen_subcommand_from permissions" -l no-input -d 'Never prompt; fail listing every missing value instead'
complete -c plat -n "__fish_plat_using_subcommand group; and __fish_seen_subcommand_from permissions" -s y -l yes -d 'Answer yes to confirmations'
complete -c plat -n "__fish_plat_using_subcommand group; and __fish_seen_subcommand_from permissions" -s h -l help -d 'Print help'
complete -c plat -n "__fish_plat_using_subcommand group; and __fish_seen_subcommand_from permissions" -s V -l version -d 'Print version'
complete -c plat -n "__fish_plat_using_subcommand group; and __fish_seen_subcommand_from help" -f -a "list" -d 'List the current account\'s groups'
complete -c plat -n "__fish_plat_using_subcommand group; and __fish_seen_subcommand_from help" -f -a "show" -d 'Show one group with its permissions and members'
complete -c plat -n "__fish_plat_using_subcommand group; and __fish_seen_subcommand_from help" -f -a "create" -d 'Create a group with permissions'
complete -c plat -n "__fish_plat_using_subcommand group; and __fish_seen_subcommand_from help" -f -a "update" -d 'Add or remove permissions of a group'
complete -c plat -n "__fish_plat_using_subcommand group; and __fish_seen_subcommand_from help" -f -a "delete" -d 'Delete a group (predefined groups stay)'
complete -c plat -n "__fish_plat_using_subcommand group; and __fish_seen_subcommand_from help" -f -a "add-member" -d 'Add a linked user to a group'
complete -c plat -n "__fish_plat_using_subcommand group; and __fish_seen_subcommand_from help" -f -a "remove-member" -d 'Remove a user from a group'
complete -c plat -n "__fish_plat_using_subcommand group; and __fish_seen_subcommand_from help" -f -a "link-idp" -d 'Give the members of an identity-provider group this group\'s permissions'
complete -c plat -n "__fish_plat_using_subcommand group; and __fish_seen_subcommand_from help" -f -a "unlink-idp" -d 'Remove an identity-provider group\'s link to this group'
complete -c plat -n "__fish_plat_using_subcommand group; and __fish_seen_subcommand_from help" -f -a "permissions" -d 'List every permission a group can hold'
complete -c plat -n "__fish_plat_using_subcommand group; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c plat -n "__fish_plat_using_subcommand trust; and not __fish_seen_subcommand_from list ls add delete rm help" -s o -l output -d 'Output format: a table for people, JSON or YAML documents for programs' -r -f -a "table\t''
json\t''
yaml\t''"
complete -c plat -n "__fish_plat_using_subcommand trust; and not __fish_seen_subcommand_from list ls add delete rm help" -l context -d 'Context (platform connection) to use instead of the current one' -r
complete -c plat -n "__fish_plat_using_subcommand trust; and not __fish_seen_subcommand_from list ls add delete rm help" -l account -d 'Account to act in (default: your own)' -r
complete -c plat -n "__fish_plat_using_subcommand trust; and not __fish_seen_subcommand_from list ls add delete rm help" -l user -d 'Platform user to act as on an embedded platform (default: the local operator)' -r
complete -c plat -n "__fish_plat_using_subcommand trust; and not __fish_seen_subcommand_from list ls add delete rm help" -s q -l quiet -d 'Print only data and errors'
complete -c plat -n "__fish_plat_using_subcommand trust; and not __fish_seen_subcommand_from list ls add delete rm help" -s v -l verbose -d 'Say more about what is happening (repeat for more)'
complete -c plat -n "__fish_plat_using_subcommand trust; and not __fish_seen_subcommand_from list ls add delete rm help" -l no-input -d 'Never prompt; fail listing every missing value instead'
complete -c plat -n "__fish_plat_using_subcommand trust; and not __fish_seen_subcommand_from list ls add delete rm help" -s y -l yes -d 'Answer yes to confirmations'
complete -c plat -n "__fish_plat_using_subcommand trust; and not __fish_seen_subcommand_from list ls add delete rm help" -s h -l help -d 'Print help'
complete -c plat -n "__fish_plat_using_subcommand trust; and not __fish_seen_subcommand_from list ls add delete rm help" -s V -l version -d 'Print version'
complete -c plat -n "__fish_plat_using_subcommand trust; and not __fish_seen_subcommand_from list ls add delete rm help" -f -a "list" -d 'List the account\'s trust rules'
complete -c plat -n "__fish_plat_using_subcommand trust; and not __fish_seen_subcommand_from list ls add delete rm help" -f -a "ls" -d 'List the account\'s trust rules'
complete -c plat -n "__fish_plat_using_subcommand trust; and not __fish_seen_subcommand_from list ls add delete rm help" -f -a "add" -d 'Let tokens of an external issuer (a GitHub Actions job) act with a group\'s permissions'
complete -c plat -n "__fish_plat_using_subcommand trust; and not __fish_seen_subcommand_from list ls add delete rm help" -f -a "delete" -d 'Delete a trust rule: its tokens are refused from the next request'
complete -c plat -n "__fish_plat_using_subcommand trust; and not __fish_seen_subcommand_from list ls add delete rm help" -f -a "rm" -d 'Delete a trust rule: its tokens are refused from the next request'
complete -c plat -n "__fish_plat_using_subcommand trust; and not __fish_seen_subcommand_from list ls add delete rm help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c plat -n "__fish_plat_using_subcommand trust; and __fish_seen_subcommand_from list" -s o -l output -d 'Output format: a table for people, JSON or YAML documents for programs' -r -f -a "table\t''
json\t''
yaml\t''"
complete -c plat -n "__fish_plat_using_subcommand trust; and __fish_seen_subcommand_from list" -l context -d 'Context (platform connection) to use instead of the current one' -r
complete -c plat -n "__fish_plat_using_subcommand trust; and __fish_seen_subcommand_from list" -l account -d 'Account to act in (default: your own)' -r
complete -c plat -n "__fish_plat_using_subcommand trust; and __fish_seen_subcommand_from list" -l user -d 'Platform user to act as on an embedded platform (default: the local operator)' -r
complete -c plat -n "__fish_plat_using_subcommand trust; and __fish_seen_subcommand_from list" -s q -l quiet -d 'Print only data and errors'
complete -c plat -n "__fish_plat_using_subcommand trust; and __fish_seen_subcommand_from list" -s v -l verbose -d 'Say more about what is happening (repeat for more)'
complete -c plat -n "__fish_plat_using_subcommand trust; and __fish_seen_subcommand_from list" -l no-input -d 'Never prompt; fail listing every missing value instead'
complete -c plat -n "__fish_plat_using_subcommand trust; and __fish_seen_subcommand_from list" -s y -l yes -d 'Answer yes to confirmations'
complete -c plat -n "__fish_plat_using_subcommand trust; and __fish_seen_subcommand_from list" -s h -l help -d 'Print help'
complete -c plat -n "__fish_plat_using_subcommand trust; and __fish_seen_subcommand_from list" -s V -l version -d 'Print version'
complete -c plat -n "__fish_plat_using_subcommand trust; and __fish_seen_subcommand_from ls" -s o -l output -d 'Output format: a table for people, JSON or YAML documents for programs' -r -f -a "table\t''
json\t''
yaml\t''"
complete -c plat -n "__fish_plat_using_subcommand trust; and __fish_seen_subcommand_from ls" -l context -d 'Context (platform connection) to use instead of the current one' -r
complete -c plat -n "__fish_plat_using_subcommand trust; and __fish_seen_subcommand_from ls" -l account -d 'Account to act in (default: your own)' -r
complete -c plat -n "__fish_plat_using_subcommand trust; and __fish_seen_subcommand_from ls" -l user -d 'Platform user to act as on an embedded platform (default: the local operator)' -r
complete -c plat -n "__fish_plat_using_subcommand trust; and __fish_seen_subcommand_from ls" -s q -l quiet -d 'Print only data and errors'
complete -c plat -n "__fish_plat_using_subcommand trust; and __fish_seen_subcommand_from ls" -s v -l verbose -d 'Say more about what is happening (repeat for more)'
complete -c plat -n "__fish_plat_using_subcommand trust; and __fish_seen_subcommand_from ls" -l no-input -d 'Never prompt; fail listing every missing value instead'
complete -c plat -n "__fish_plat_using_subcommand trust; and __fish_seen_subcommand_from ls" -s y -l yes -d 'Answer yes to confirmations'
complete -c plat -n "__fish_plat_using_subcommand trust; and __fish_seen_subcommand_from ls" -s h -l help -d 'Print help'
complete -c plat -n "__fish_plat_using_subcommand trust; and __fish_seen_subcommand_from ls" -s V -l version -d 'Print version'
complete -c plat -n "__fish_plat_using_subcommand trust; and __fish_seen_subcommand_from add" -l issuer -d 'The issuer URL, as the tokens\' `iss` claim has it' -r
complete -c plat -n "__fish_plat_using_subcommand trust; and __fish_seen_subcommand_from add" -l audience -d 'The audience the tokens must be for (`plat login --github-actions --audience`)' -r
complete -c plat -n "__fish_plat_using_subcommand trust; and __fish_seen_subcommand_from add" -l claim -d 'A claim the token must have (repeatable; all must match), e.g. repository=acme/shop' -r
complete -c plat -n "__fish_plat_using_subcommand trust; and __fish_seen_subcommand_from add" -l group -d 'The account\'s group whose permissions the tokens act with' -r
complete -c plat -n "__fish_plat_using_subcommand trust; and __fish_seen_subcommand_from add" -s o -l output -d 'Output format: a table for people, JSON or YAML documents for programs' -r -f -a "table\t''
json\t''
yaml\t''"
complete -c plat -n "__fish_plat_using_subcommand trust; and __fish_seen_subcommand_from add" -l context -d 'Context (platform connection) to use instead of the current one' -r
complete -c plat -n "__fish_plat_using_subcommand trust; and __fish_seen_subcommand_from add" -l account -d 'Account to act in (default: your own)' -r
complete -c plat -n "__fish_plat_using_subcommand trust; and __fish_seen_subcommand_from add" -l user -d 'Platform user to act as on an embedded platform (default: the local operator)' -r
complete -c plat -n "__fish_plat_using_subcommand trust; and __fish_seen_subcommand_from add" -s q -l quiet -d 'Print only data and errors'
complete -c plat -n "__fish_plat_using_subcommand trust; and __fish_seen_subcommand_from add" -s v -l verbose -d 'Say more about what is happening (repeat for more)'
complete -c plat -n "__fish_plat_using_subcommand trust; and __fish_seen_subcommand_from add" -l no-input -d 'Never prompt; fail listing every missing value instead'
complete -c plat -n "__fish_plat_using_subcommand trust; and __fish_seen_subcommand_from add" -s y -l yes -d 'Answer yes to confirmations'
complete -c plat -n "__fish_plat_using_subcommand trust; and __fish_seen_subcommand_from add" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c plat -n "__fish_plat_using_subcommand trust; and __fish_seen_subcommand_from add" -s V -l version -d 'Print version'
complete -c plat -n "__fish_plat_using_subcommand trust; and __fish_seen_subcommand_from delete" -s o -l output -d 'Output format: a table for people, JSON or YAML documents for programs' -r -f -a "table\t''
json\t''
yaml\t''"
complete -c plat -n "__fish_plat_using_subcommand trust; and __fish_seen_subcommand_from delete" -l context -d 'Context (platform connection) to use instead of the current one' -r
complete -c plat -n "__fish_plat_using_subcommand trust; and __fish_seen_subcommand_from delete" -l account -d 'Account to act in (default: your own)' -r
complete -c plat -n "__fish_plat_using_subcommand trust; and __fish_seen_subcommand_from delete" -l user -d 'Platform user to act as on an embedded platform (default: the local operator)' -r
complete -c plat -n "__fish_plat_using_subcommand trust; and __fish_seen_subcommand_from delete" -s q -l quiet -d 'Print only data and errors'
complete -c plat -n "__fish_plat_using_subcommand trust; and __fish_seen_subcommand_from delete" -s v -l verbose -d 'Say more about what is happening (repeat for more)'
complete -c plat -n "__fish_plat_using_subcommand trust; and __fish_seen_subcommand_from delete" -l no-input -d 'Never prompt; fail listing every missing value instead'
complete -c plat -n "__fish_plat_using_subcommand trust; and __fish_seen_subcommand_from delete" -s y -l yes -d 'Answer yes to confirmations'
complete -c plat -n "__fish_plat_using_subcommand trust; and __fish_seen_subcommand_from delete" -s h -l help -d 'Print help'
complete -c plat -n "__fish_plat_using_subcommand trust; and __fish_seen_subcommand_from delete" -s V -l version -d 'Print version'
complete -c plat -n "__fish_plat_using_subcommand trust; and __fish_seen_subcommand_from rm" -s o -l output -d 'Output format: a table for people, JSON or YAML documents for programs' -r -f -a "table\t''
json\t''
yaml\t''"
complete -c plat -n "__fish_plat_using_subcommand trust; and __fish_seen_subcommand_from rm" -l context -d 'Context (platform connection) to use instead of the current one' -r
complete -c plat -n "__fish_plat_using_subcommand trust; and __fish_seen_subcommand_from rm" -l account -d 'Account to act in (default: your own)' -r
complete -c plat -n "__fish_plat_using_subcommand trust; and __fish_seen_subcommand_from rm" -l user -d 'Platform user to act as on an embedded platform (default: the local operator)' -r
complete -c plat -n "__fish_plat_using_subcommand trust; and __fish_seen_subcommand_from rm" -s q -l quiet -d 'Print only data and errors'
complete -c plat -n "__fish_plat_using_subcommand trust; and __fish_seen_subcommand_from rm" -s v -l verbose -d 'Say more about what is happening (repeat for more)'
complete -c plat -n "__fish_plat_using_subcommand trust; and __fish_seen_subcommand_from rm" -l no-input -d 'Never prompt; fail listing every missing value instead'
complete -c plat -n "__fish_plat_using_subcommand trust; and __fish_seen_subcommand_from rm" -s y -l yes -d 'Answer yes to confirmations'
complete -c plat -n "__fish_plat_using_subcommand trust; and __fish_seen_subcommand_from rm" -s h -l help -d 'Print help'
complete -c plat -n "__fish_plat_using_subcommand trust; and __fish_seen_subcommand_from rm" -s V -l version -d 'Print version'
complete -c plat -n "__fish_plat_using_subcommand trust; and __fish_seen_subcommand_from help" -f -a "list" -d 'List the account\'s trust rules'
complete -c plat -n "__fish_plat_using_subcommand trust; and __fish_seen_subcommand_from help" -f -a "add" -d 'Let tokens of an external issuer (a GitHub Actions job) act with a group\'s permissions'
complete -c plat -n "__fish_plat_using_subcommand trust; and __fish_seen_subcommand_from help" -f -a "delete" -d 'Delete a trust rule: its tokens are refused from the next request'
complete -c plat -n "__fish_plat_using_subcommand trust; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c plat -n "__fish_plat_using_subcommand context; and not __fish_seen_subcommand_from list ls show use add delete rm help" -s o -l output -d 'Output format: a table for people, JSON or YAML documents for programs' -r -f -a "table\t''
json\t''
yaml\t''"
complete -c plat -n "__fish_plat_using_subcommand context; and not __fish_seen_subcommand_from list ls show use add delete rm help" -l context -d 'Context (platform connection) to use instead of the current one' -r
complete -c plat -n "__fish_plat_using_subcommand context; and not __fish_seen_subcommand_from list ls show use add delete rm help" -l account -d 'Account to act in (default: your own)' -r
complete -c plat -n "__fish_plat_using_subcommand context; and not __fish_seen_subcommand_from list ls show use add delete rm help" -l user -d 'Platform user to act as on an embedded platform (default: the local operator)' -r
complete -c plat -n "__fish_plat_using_subcommand context; and not __fish_seen_subcommand_from list ls show use add delete rm help" -s q -l quiet -d 'Print only data and errors'
complete -c plat -n "__fish_plat_using_subcommand context; and not __fish_seen_subcommand_from list ls show use add delete rm help" -s v -l verbose -d 'Say more about what is happening (repeat for more)'
complete -c plat -n "__fish_plat_using_subcommand context; and not __fish_seen_subcommand_from list ls show use add delete rm help" -l no-input -d 'Never prompt; fail listing every missing value instead'
complete -c plat -n "__fish_plat_using_subcommand context; and not __fish_seen_subcommand_from list ls show use add delete rm help" -s y -l yes -d 'Answer yes to confirmations'
complete -c plat -n "__fish_plat_using_subcommand context; and not __fish_seen_subcommand_from list ls show use add delete rm help" -s h -l help -d 'Print help'
complete -c plat -n "__fish_plat_using_subcommand context; and not __fish_seen_subcommand_from list ls show use add delete rm help" -s V -l version -d 'Print version'
complete -c plat -n "__fish_plat_using_subcommand context; and not __fish_seen_subcommand_from list ls show use add delete rm help" -f -a "list" -d 'List contexts; the current one is marked'
complete -c plat -n "__fish_plat_using_subcommand context; and not __fish_seen_subcommand_from list ls show use add delete rm help" -f -a "ls" -d 'List contexts; the current one is marked'
complete -c plat -n "__fish_plat_using_subcommand context; and not __fish_seen_subcommand_from list ls show use add delete rm help" -f -a "show" -d 'Show a context (default: the current one)'
complete -c plat -n "__fish_plat_using_subcommand context; and not __fish_seen_subcommand_from list ls show use add delete rm help" -f -a "use" -d 'Make a context the current one'
complete -c plat -n "__fish_plat_using_subcommand context; and not __fish_seen_subcommand_from list ls show use add delete rm help" -f -a "add" -d 'Add or replace a context'
complete -c plat -n "__fish_plat_using_subcommand context; and not __fish_seen_subcommand_from list ls show use add delete rm help" -f -a "delete" -d 'Delete a context'
complete -c plat -n "__fish_plat_using_subcommand context; and not __fish_seen_subcommand_from list ls show use add delete rm help" -f -a "rm" -d 'Delete a context'
complete -c plat -n "__fish_plat_using_subcommand context; and not __fish_seen_subcommand_from list ls show use add delete rm help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c plat -n "__fish_plat_using_subcommand context; and __fish_seen_subcommand_from list" -s o -l output -d 'Output format: a table for people, JSON or YAML documents for programs' -r -f -a "table\t''
json\t''
yaml\t''"
complete -c plat -n "__fish_plat_using_subcommand context; and __fish_seen_subcommand_from list" -l context -d 'Context (platform connection) to use instead of the current one' -r
complete -c plat -n "__fish_plat_using_subcommand context; and __fish_seen_subcommand_from list" -l account -d 'Account to act in (default: your own)' -r
complete -c plat -n "__fish_plat_using_subcommand context; and __fish_seen_subcommand_from list" -l user -d 'Platform user to act as on an embedded platform (default: the local operator)' -r
complete -c plat -n "__fish_plat_using_subcommand context; and __fish_seen_subcommand_from list" -s q -l quiet -d 'Print only data and errors'
complete -c plat -n "__fish_plat_using_subcommand context; and __fish_seen_subcommand_from list" -s v -l verbose -d 'Say more about what is happening (repeat for more)'
complete -c plat -n "__fish_plat_using_subcommand context; and __fish_seen_subcommand_from list" -l no-input -d 'Never prompt; fail listing every missing value instead'
complete -c plat -n "__fish_plat_using_subcommand context; and __fish_seen_subcommand_from list" -s y -l yes -d 'Answer yes to confirmations'
complete -c plat -n "__fish_plat_using_subcommand context; and __fish_seen_subcommand_from list" -s h -l help -d 'Print help'
complete -c plat -n "__fish_plat_using_subcommand context; and __fish_seen_subcommand_from list" -s V -l version -d 'Print version'
complete -c plat -n "__fish_plat_using_subcommand context; and __fish_seen_subcommand_from ls" -s o -l output -d 'Output format: a table for people, JSON or YAML documents for programs' -r -f -a "table\t''
json\t''
yaml\t''"
complete -c plat -n "__fish_plat_using_subcommand context; and __fish_seen_subcommand_from ls" -l context -d 'Context (platform connection) to use instead of the current one' -r
complete -c plat -n "__fish_plat_using_subcommand context; and __fish_seen_subcommand_from ls" -l account -d 'Account to act in (default: your own)' -r
complete -c plat -n "__fish_plat_using_subcommand context; and __fish_seen_subcommand_from ls" -l user -d 'Platform user to act as on an embedded platform (default: the local operator)' -r
complete -c plat -n "__fish_plat_using_subcommand context; and __fish_seen_subcommand_from ls" -s q -l quiet -d 'Print only data and errors'
complete -c plat -n "__fish_plat_using_subcommand context; and __fish_seen_subcommand_from ls" -s v -l verbose -d 'Say more about what is happening (repeat for more)'
complete -c plat -n "__fish_plat_using_subcommand context; and __fish_seen_subcommand_from ls" -l no-input -d 'Never prompt; fail listing every missing value instead'
complete -c plat -n "__fish_plat_using_subcommand context; and __fish_seen_subcommand_from ls" -s y -l yes -d 'Answer yes to confirmations'
complete -c plat -n "__fish_plat_using_subcommand context; and __fish_seen_subcommand_from ls" -s h -l help -d 'Print help'
complete -c plat -n "__fish_plat_using_subcommand context; and __fish_seen_subcommand_from ls" -s V -l version -d 'Print version'
complete -c plat -n "__fish_plat_using_subcommand context; and __fish_seen_subcommand_from show" -s o -l output -d 'Output format: a table for people, JSON or YAML documents for programs' -r -f -a "table\t''
json\t''
yaml\t''"
complete -c plat -n "__fish_plat_using_subcommand context; and __fish_seen_subcommand_from show" -l context -d 'Context (platform connection) to use instead of the current one' -r
complete -c plat -n "__fish_plat_using_subcommand context; and __fish_seen_subcommand_from show" -l account -d 'Account to act in (default: your own)' -r
complete -c plat -n "__fish_plat_using_subcommand context; and __fish_seen_subcommand_from show" -l user -d 'Platform user to act as on an embedded platform (default: the local operator)' -r
complete -c plat -n "__fish_plat_using_subcommand context; and __fish_seen_subcommand_from show" -s q -l quiet -d 'Print only data and errors'
complete -c plat -n "__fish_plat_using_subcommand context; and __fish_seen_subcommand_from show" -s v -l verbose -d 'Say more about what is happening (repeat for more)'
complete -c plat -n "__fish_plat_using_subcommand context; and __fish_seen_subcommand_from show" -l no-input -d 'Never prompt; fail listing every missing value instead'
complete -c plat -n "__fish_plat_using_subcommand context; and __fish_seen_subcommand_from show" -s y -l yes -d 'Answer yes to confirmations'
complete -c plat -n "__fish_plat_using_subcommand context; and __fish_seen_subcommand_from show" -s h -l help -d 'Print help'
complete -c plat -n "__fish_plat_using_subcommand context; and __fish_seen_subcommand_from show" -s V -l version -d 'Print version'
complete -c plat -n "__fish_plat_using_subcommand context; and __fish_seen_subcommand_from use" -s o -l output -d 'Output format: a table for people, JSON or YAML documents for programs' -r -f -a "table\t''
json\t''
yaml\t''"
complete -c plat -n "__fish_plat_using_subcommand context; and __fish_seen_subcommand_from use" -l context -d 'Context (platform connection) to use instead of the current one' -r
complete -c plat -n "__fish_plat_using_subcommand context; and __fish_seen_subcommand_from use" -l account -d 'Account to act in (default: your own)' -r
complete -c plat -n "__fish_plat_using_subcommand context; and __fish_seen_subcommand_from use" -l user -d 'Platform user to act as on an embedded platform (default: the local operator)' -r
complete -c plat -n "__fish_plat_using_subcommand context; and __fish_seen_subcommand_from use" -s q -l quiet -d 'Print only data and errors'
complete -c plat -n "__fish_plat_using_subcommand context; and __fish_seen_subcommand_from use" -s v -l verbose -d 'Say more about what is happening (repeat for more)'
complete -c plat -n "__fish_plat_using_subcommand context; and __fish_seen_subcommand_from use" -l no-input -d 'Never prompt; fail listing every missing value instead'
complete -c plat -n "__fish_plat_using_subcommand context; and __fish_seen_subcommand_from use" -s y -l yes -d 'Answer yes to confirmations'
complete -c plat -n "__fish_plat_using_subcommand context; and __fish_seen_subcommand_from use" -s h -l help -d 'Print help'
complete -c plat -n "__fish_plat_using_subcommand context; and __fish_seen_subcommand_from use" -s V -l version -d 'Print version'
complete -c plat -n "__fish_plat_using_subcommand context; and __fish_seen_subcommand_from add" -l server -d 'URL of a `plat server` (omit for the embedded platform)' -r
complete -c plat -n "__fish_plat_using_subcommand context; and __fish_seen_subcommand_from add" -l database-url -d 'Database of an embedded platform (default: SQLite in the data dir)' -r
complete -c plat -n "__fish_plat_using_subcommand context; and __fish_seen_subcommand_from add" -l as -d 'Platform user to act as (embedded platform only)' -r
complete -c plat -n "__fish_plat_using_subcommand context; and __fish_seen_subcommand_from add" -l default-account -d 'Account to act in by default' -r
complete -c plat -n "__fish_plat_using_subcommand context; and __fish_seen_subcommand_from add" -l iac-bin -d 'Terraform or OpenTofu binary to use' -r
complete -c plat -n "__fish_plat_using_subcommand context; and __fish_seen_subcommand_from add" -s o -l output -d 'Output format: a table for people, JSON or YAML documents for programs' -r -f -a "table\t''
json\t''
yaml\t''"
complete -c plat -n "__fish_plat_using_subcommand context; and __fish_seen_subcommand_from add" -l context -d 'Context (platform connection) to use instead of the current one' -r
complete -c plat -n "__fish_plat_using_subcommand context; and __fish_seen_subcommand_from add" -l account -d 'Account to act in (default: your own)' -r
complete -c plat -n "__fish_plat_using_subcommand context; and __fish_seen_subcommand_from add" -l use -d 'Make it the current context'
complete -c plat -n "__fish_plat_using_subcommand context; and __fish_seen_subcommand_from add" -s q -l quiet -d 'Print only data and errors'
complete -c plat -n "__fish_plat_using_subcommand context; and __fish_seen_subcommand_from add" -s v -l verbose -d 'Say more about what is happening (repeat for more)'
complete -c plat -n "__fish_plat_using_subcommand context; and __fish_seen_subcommand_from add" -l no-input -d 'Never prompt; fail listing every missing value instead'
complete -c plat -n "__fish_plat_using_subcommand context; and __fish_seen_subcommand_from add" -s y -l yes -d 'Answer yes to confirmations'
complete -c plat -n "__fish_plat_using_subcommand context; and __fish_seen_subcommand_from add" -s h -l help -d 'Print help'
complete -c plat -n "__fish_plat_using_subcommand context; and __fish_seen_subcommand_from add" -s V -l version -d 'Print version'
complete -c plat -n "__fish_plat_using_subcommand context; and __fish_seen_subcommand_from delete" -s o -l output -d 'Output format: a table for people, JSON or YAML documents for programs' -r -f -a "table\t''
json\t''
yaml\t''"
complete -c plat -n "__fish_plat_using_subcommand context; and __fish_seen_subcommand_from delete" -l context -d 'Context (platform connection) to use instead of the current one' -r
complete -c plat -n "__fish_plat_using_subcommand context; and __fish_seen_subcommand_from delete" -l account -d 'Account to act in (default: your own)' -r
complete -c plat -n "__fish_plat_using_subcommand context; and __fish_seen_subcommand_from delete" -l user -d 'Platform user to act as on an embedded platform (default: the local operator)' -r
complete -c plat -n "__fish_plat_using_subcommand context; and __fish_seen_subcommand_from delete" -s q -l quiet -d 'Print only data and errors'
complete -c plat -n "__fish_plat_using_subcommand context; and __fish_seen_subcommand_from delete" -s v -l verbose -d 'Say more about what is happening (repeat for more)'
complete -c plat -n "__fish_plat_using_subcommand context; and __fish_seen_subcommand_from delete" -l no-input -d 'Never prompt; fail listing every missing value instead'
complete -c plat -n "__fish_plat_using_subcommand context; and __fish_seen_subcommand_from delete" -s y -l yes -d 'Answer yes to confirmations'
complete -c plat -n "__fish_plat_using_subcommand context; and __fish_seen_subcommand_from delete" -s h -l help -d 'Print help'
complete -c plat -n "__fish_plat_using_subcommand context; and __fish_seen_subcommand_from delete" -s V -l version -d 'Print version'
complete -c plat -n "__fish_plat_using_subcommand context; and __fish_seen_subcommand_from rm" -s o -l output -d 'Output format: a table for people, JSON or YAML documents for programs' -r -f -a "table\t''
json\t''
yaml\t''"
complete -c plat -n "__fish_plat_using_subcommand context; and __fish_seen_subcommand_from rm" -l context -d 'Context (platform connection) to use instead of the current one' -r
complete -c plat -n "__fish_plat_using_subcommand context; and __fish_seen_subcommand_from rm" -l account -d 'Account to act in (default: your own)' -r
complete -c plat -n "__fish_plat_using_subcommand context; and __fish_seen_subcommand_from rm" -l user -d 'Platform user to act as on an embedded platform (default: the local operator)' -r
complete -c plat -n "__fish_plat_using_subcommand context; and __fish_seen_subcommand_from rm" -s q -l quiet -d 'Print only data and errors'
complete -c plat -n "__fish_plat_using_subcommand context; and __fish_seen_subcommand_from rm" -s v -l verbose -d 'Say more about what is happening (repeat for more)'
complete -c plat -n "__fish_plat_using_subcommand context; and __fish_seen_subcommand_from rm" -l no-input -d 'Never prompt; fail listing every missing value instead'
complete -c plat -n "__fish_plat_using_subcommand context; and __fish_seen_subcommand_from rm" -s y -l yes -d 'Answer yes to confirmations'
complete -c plat -n "__fish_plat_using_subcommand context; and __fish_seen_subcommand_from rm" -s h -l help -d 'Print help'
complete -c plat -n "__fish_plat_using_subcommand context; and __fish_seen_subcommand_from rm" -s V -l version -d 'Print version'
complete -c plat -n "__fish_plat_using_subcommand context; and __fish_seen_subcommand_from help" -f -a "list" -d 'List contexts; the current one is marked'
complete -c plat -n "__fish_plat_using_subcommand context; and __fish_seen_subcommand_from help" -f -a "show" -d 'Show a context (default: the current one)'
complete -c plat -n "__fish_plat_using_subcommand context; and __fish_seen_subcommand_from help" -f -a "use" -d 'Make a context the current one'
complete -c plat -n "__fish_plat_using_subcommand context; and __fish_seen_subcommand_from help" -f -a "add" -d 'Add or replace a context'
complete -c plat -n "__fish_plat_using_subcommand context; and __fish_seen_subcommand_from help" -f -a "delete" -d 'Delete a context'
complete -c plat -n "__fish_plat_using_subcommand context; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c plat -n "__fish_plat_using_subcommand whoami" -s o -l output -d 'Output format: a table for people, JSON or YAML documents for programs' -r -f -a "table\t''
json\t''
yaml\t''"
complete -c plat -n "__fish_plat_using_subcommand whoami" -l context -d 'Context (platform connection) to use instead of the current one' -r
complete -c plat -n "__fish_plat_using_subcommand whoami" -l account -d 'Account to act in (default: your own)' -r
complete -c plat -n "__fish_plat_using_subcommand whoami" -l user -d 'Platform user to act as on an embedded platform (default: the local operator)' -r
complete -c plat -n "__fish_plat_using_subcommand whoami" -s q -l quiet -d 'Print only data and errors'
complete -c plat -n "__fish_plat_using_subcommand whoami" -s v -l verbose -d 'Say more about what is happening (repeat for more)'
complete -c plat -n "__fish_plat_using_subcommand whoami" -l no-input -d 'Never prompt; fail listing every missing value instead'
complete -c plat -n "__fish_plat_using_subcommand whoami" -s y -l yes -d 'Answer yes to confirmations'
complete -c plat -n "__fish_plat_using_subcommand whoami" -s h -l help -d 'Print help'
complete -c plat -n "__fish_plat_using_subcommand whoami" -s V -l version -d 'Print version'
complete -c plat -n "__fish_plat_using_subcommand env; and not __fish_seen_subcommand_from template up list ls show logs outputs extend down quota reap approve reject help" -s o -l output -d 'Output format: a table for people, JSON or YAML documents for programs' -r -f -a "table\t''
json\t''
yaml\t''"
complete -c plat -n "__fish_plat_using_subcommand env; and not __fish_seen_subcommand_from template up list ls show logs outputs extend down quota reap approve reject help" -l context -d 'Context (platform connection) to use instead of the current one' -r
complete -c plat -n "__fish_plat_using_subcommand env; and not __fish_seen_subcommand_from template up list ls show logs outputs extend down quota reap approve reject help" -l account -d 'Account to act in (default: your own)' -r
complete -c plat -n "__fish_plat_using_subcommand env; and not __fish_seen_subcommand_from template up list ls show logs outputs extend down quota reap approve reject help" -l user -d 'Platform user to act as on an embedded platform (default: the local operator)' -r
complete -c plat -n "__fish_plat_using_subcommand env; and not __fish_seen_subcommand_from template up list ls show logs outputs extend down quota reap approve reject help" -s q -l quiet -d 'Print only data and errors'
complete -c plat -n "__fish_plat_using_subcommand env; and not __fish_seen_subcommand_from template up list ls show logs outputs extend down quota reap approve reject help" -s v -l verbose -d 'Say more about what is happening (repeat for more)'
complete -c plat -n "__fish_plat_using_subcommand env; and not __fish_seen_subcommand_from template up list ls show logs outputs extend down quota reap approve reject help" -l no-input -d 'Never prompt; fail listing every missing value instead'
complete -c plat -n "__fish_plat_using_subcommand env; and not __fish_seen_subcommand_from template up list ls show logs outputs extend down quota reap approve reject help" -s y -l yes -d 'Answer yes to confirmations'
complete -c plat -n "__fish_plat_using_subcommand env; and not __fish_seen_subcommand_from template up list ls show logs outputs extend down quota reap approve reject help" -s h -l help -d 'Print help'
complete -c plat -n "__fish_plat_using_subcommand env; and not __fish_seen_subcommand_from template up list ls show logs outputs extend down quota reap approve reject help" -s V -l version -d 'Print version'
complete -c plat -n "__fish_plat_using_subcommand env; and not __fish_seen_subcommand_from template up list ls show logs outputs extend down quota reap approve reject help" -f -a "template" -d 'Environment templates: built-in ones and those in PLAT_TEMPLATE_PATH'
complete -c plat -n "__fish_plat_using_subcommand env; and not __fish_seen_subcommand_from template up list ls show logs outputs extend down quota reap approve reject help" -f -a "up" -d 'Provision an environment from a template (Terraform/OpenTofu); it is destroyed when it expires'
complete -c plat -n "__fish_plat_using_subcommand env; and not __fish_seen_subcommand_from template up list ls show logs outputs extend down quota reap approve reject help" -f -a "list" -d 'List this account\'s environments'
complete -c plat -n "__fish_plat_using_subcommand env; and not __fish_seen_subcommand_from template up list ls show logs outputs extend down quota reap approve reject help" -f -a "ls" -d 'List this account\'s environments'
complete -c plat -n "__fish_plat_using_subcommand env; and not __fish_seen_subcommand_from template up list ls show logs outputs extend down quota reap approve reject help" -f -a "show" -d 'Show an environment: status, expiry, resources, outputs'
complete -c plat -n "__fish_plat_using_subcommand env; and not __fish_seen_subcommand_from template up list ls show logs outputs extend down quota reap approve reject help" -f -a "logs" -d 'Print the Terraform log of an environment\'s last run'
complete -c plat -n "__fish_plat_using_subcommand env; and not __fish_seen_subcommand_from template up list ls show logs outputs extend down quota reap approve reject help" -f -a "outputs" -d 'Print an environment\'s outputs (sensitive values redacted)'
complete -c plat -n "__fish_plat_using_subcommand env; and not __fish_seen_subcommand_from template up list ls show logs outputs extend down quota reap approve reject help" -f -a "extend" -d 'Push an environment\'s expiry to now + DURATION (capped by the policy\'s maximum lifetime)'
complete -c plat -n "__fish_plat_using_subcommand env; and not __fish_seen_subcommand_from template up list ls show logs outputs extend down quota reap approve reject help" -f -a "down" -d 'Destroy an environment; an environment already gone is not an error'
complete -c plat -n "__fish_plat_using_subcommand env; and not __fish_seen_subcommand_from template up list ls show logs outputs extend down quota reap approve reject help" -f -a "quota" -d 'How many environments you may still create today'
complete -c plat -n "__fish_plat_using_subcommand env; and not __fish_seen_subcommand_from template up list ls show logs outputs extend down quota reap approve reject help" -f -a "reap" -d 'Destroy every expired environment (for cron or a CI schedule)'
complete -c plat -n "__fish_plat_using_subcommand env; and not __fish_seen_subcommand_from template up list ls show logs outputs extend down quota reap approve reject help" -f -a "approve" -d 'Approve an environment of a protected template; its requester\'s `env up` then provisions it'
complete -c plat -n "__fish_plat_using_subcommand env; and not __fish_seen_subcommand_from template up list ls show logs outputs extend down quota reap approve reject help" -f -a "reject" -d 'Reject an environment of a protected template; nothing is provisioned'
complete -c plat -n "__fish_plat_using_subcommand env; and not __fish_seen_subcommand_from template up list ls show logs outputs extend down quota reap approve reject help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c plat -n "__fish_plat_using_subcommand env; and __fish_seen_subcommand_from template" -s o -l output -d 'Output format: a table for people, JSON or YAML documents for programs' -r -f -a "table\t''
json\t''
yaml\t''"
complete -c plat -n "__fish_plat_using_subcommand env; and __fish_seen_subcommand_from template" -l context -d 'Context (platform connection) to use instead of the current one' -r
complete -c plat -n "__fish_plat_using_subcommand env; and __fish_seen_subcommand_from template" -l account -d 'Account to act in (default: your own)' -r
complete -c plat -n "__fish_plat_using_subcommand env; and __fish_seen_subcommand_from template" -l user -d 'Platform user to act as on an embedded platform (default: the local operator)' -r
complete -c plat -n "__fish_plat_using_subcommand env; and __fish_seen_subcommand_from template" -s q -l quiet -d 'Print only data and errors'
complete -c plat -n "__fish_plat_using_subcommand env; and __fish_seen_subcommand_from template" -s v -l verbose -d 'Say more about what is happening (repeat for more)'
complete -c plat -n "__fish_plat_using_subcommand env; and __fish_seen_subcommand_from template" -l no-input -d 'Never prompt; fail listing every missing value instead'
complete -c plat -n "__fish_plat_using_subcommand env; and __fish_seen_subcommand_from template" -s y -l yes -d 'Answer yes to confirmations'
complete -c plat -n "__fish_plat_using_subcommand env; and __fish_seen_subcommand_from template" -s h -l help -d 'Print help'
complete -c plat -n "__fish_plat_using_subcommand env; and __fish_seen_subcommand_from template" -s V -l version -d 'Print version'
complete -c plat -n "__fish_plat_using_subcommand env; and __fish_seen_subcommand_from template" -f -a "list" -d 'List the templates'
complete -c plat -n "__fish_plat_using_subcommand env; and __fish_seen_subcommand_from template" -f -a "ls" -d 'List the templates'
complete -c plat -n "__fish_plat_using_subcommand env; and __fish_seen_subcommand_from template" -f -a "show" -d 'Show a template\'s parameters and lifetime limits'
complete -c plat -n "__fish_plat_using_subcommand env; and __fish_seen_subcommand_from template" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c plat -n "__fish_plat_using_subcommand env; and __fish_seen_subcommand_from up" -s t -l template -d 'Template to provision' -r
complete -c plat -n "__fish_plat_using_subcommand env; and __fish_seen_subcommand_from up" -s p -l param -d 'Template parameter (repeatable)' -r
complete -c plat -n "__fish_plat_using_subcommand env; and __fish_seen_subcommand_from up" -l param-file -d 'YAML file of template parameters (--param wins)' -r -F
complete -c plat -n "__fish_plat_using_subcommand env; and __fish_seen_subcommand_from up" -l ttl -d 'Lifetime, e.g. 45m or 2h (default: the policy\'s, 30m)' -r
complete -c plat -n "__fish_plat_using_subcommand env; and __fish_seen_subcommand_from up" -l idempotency-key -d 'Key that makes a retried `up` return the first try\'s environment instead of a new one' -r
complete -c plat -n "__fish_plat_using_subcommand env; and __fish_seen_subcommand_from up" -l events -d 'Stream Terraform events as machine-readable lines' -r -f -a "ndjson\t'One JSON object per Terraform event on stdout, then the environment'"
complete -c plat -n "__fish_plat_using_subcommand env; and __fish_seen_subcommand_from up" -s o -l output -d 'Output format: a table for people, JSON or YAML documents for programs' -r -f -a "table\t''
json\t''
yaml\t''"
complete -c plat -n "__fish_plat_using_subcommand env; and __fish_seen_subcommand_from up" -l context -d 'Context (platform connection) to use instead of the current one' -r
complete -c plat -n "__fish_plat_using_subcommand env; and __fish_seen_subcommand_from up" -l account -d 'Account to act in (default: your own)' -r
complete -c plat -n "__fish_plat_using_subcommand env; and __fish_seen_subcommand_from up" -l user -d 'Platform user to act as on an embedded platform (default: the local operator)' -r
complete -c plat -n "__fish_plat_using_subcommand env; and __fish_seen_subcommand_from up" -l wait -d 'Wait until the environment is ready (the default); for a template that needs an approval, wait for the decision too (exit 6 when rejected or expired)'
complete -c plat -n "__fish_plat_using_subcommand env; and __fish_seen_subcommand_from up" -l no-wait -d 'Return once the environment is recorded; Terraform goes on in the background (follow it with `plat env logs NAME -f`)'
complete -c plat -n "__fish_plat_using_subcommand env; and __fish_seen_subcommand_from up" -s q -l quiet -d 'Print only data and errors'
complete -c plat -n "__fish_plat_using_subcommand env; and __fish_seen_subcommand_from up" -s v -l verbose -d 'Say more about what is happening (repeat for more)'
complete -c plat -n "__fish_plat_using_subcommand env; and __fish_seen_subcommand_from up" -l no-input -d 'Never prompt; fail listing every missing value instead'
complete -c plat -n "__fish_plat_using_subcommand env; and __fish_seen_subcommand_from up" -s y -l yes -d 'Answer yes to confirmations'
complete -c plat -n "__fish_plat_using_subcommand env; and __fish_seen_subcommand_from up" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c plat -n "__fish_plat_using_subcommand env; and __fish_seen_subcommand_from up" -s V -l version -d 'Print version'
complete -c plat -n "__fish_plat_using_subcommand env; and __fish_seen_subcommand_from list" -s o -l output -d 'Output format: a table for people, JSON or YAML documents for programs' -r -f -a "table\t''
json\t''
yaml\t''"
complete -c plat -n "__fish_plat_using_subcommand env; and __fish_seen_subcommand_from list" -l context -d 'Context (platform connection) to use instead of the current one' -r
complete -c plat -n "__fish_plat_using_subcommand env; and __fish_seen_subcommand_from list" -l account -d 'Account to act in (default: your own)' -r
complete -c plat -n "__fish_plat_using_subcommand env; and __fish_seen_subcommand_from list" -l user -d 'Platform user to act as on an embedded platform (default: the local operator)' -r
complete -c plat -n "__fish_plat_using_subcommand env; and __fish_seen_subcommand_from list" -l all -d 'Include destroyed environments'
complete -c plat -n "__fish_plat_using_subcommand env; and __fish_seen_subcommand_from list" -s q -l quiet -d 'Print only data and errors'
complete -c plat -n "__fish_plat_using_subcommand env; and __fish_seen_subcommand_from list" -s v -l verbose -d 'Say more about what is happening (repeat for more)'
complete -c plat -n "__fish_plat_using_subcommand env; and __fish_seen_subcommand_from list" -l no-input -d 'Never prompt; fail listing every missing value instead'
complete -c plat -n "__fish_plat_using_subcommand env; and __fish_seen_subcommand_from list" -s y -l yes -d 'Answer yes to confirmations'
complete -c plat -n "__fish_plat_using_subcommand env; and __fish_seen_subcommand_from list" -s h -l help -d 'Print help'
complete -c plat -n "__fish_plat_using_subcommand env; and __fish_seen_subcommand_from list" -s V -l version -d 'Print version'
complete -c plat -n "__fish_plat_using_subcommand env; and __fish_seen_subcommand_from ls" -s o -l output -d 'Output format: a table for people, JSON or YAML documents for programs' -r -f -a "table\t''
json\t''
yaml\t''"
complete -c plat -n "__fish_plat_using_subcommand env; and __fish_seen_subcommand_from ls" -l context -d 'Context (platform connection) to use instead of the current one' -r
complete -c plat -n "__fish_plat_using_subcommand env; and __fish_seen_subcommand_from ls" -l account -d 'Account to act in (default: your own)' -r
complete -c plat -n "__fish_plat_using_subcommand env; and __fish_seen_subcommand_from ls" -l user -d 'Platform user to act as on an embedded platform (default: the local operator)' -r
complete -c plat -n "__fish_plat_using_subcommand env; and __fish_seen_subcommand_from ls" -l all -d 'Include destroyed environments'
complete -c plat -n "__fish_plat_using_subcommand env; and __fish_seen_subcommand_from ls" -s q -l quiet -d 'Print only data and errors'
complete -c plat -n "__fish_plat_using_subcommand env; and __fish_seen_subcommand_from ls" -s v -l verbose -d 'Say more about what is happening (repeat for more)'
complete -c plat -n "__fish_plat_using_subcommand env; and __fish_seen_subcommand_from ls" -l no-input -d 'Never prompt; fail listing every missing value instead'
complete -c plat -n "__fish_plat_using_subcommand env; and __fish_seen_subcommand_from ls" -s y -l yes -d 'Answer yes to confirmations'
complete -c plat -n "__fish_plat_using_subcommand env; and __fish_seen_subcommand_from ls" -s h -l help -d 'Print help'
complete -c plat -n "__fish_plat_using_subcommand env; and __fish_seen_subcommand_from ls" -s V -l version -d 'Print version'
complete -c plat -n "__fish_plat_using_subcommand env; and __fish_seen_subcommand_from show" -s o -l output -d 'Output format: a table for people, JSON or YAML documents for programs' -r -f -a "table\t''
json\t''
yaml\t''"
complete -c plat -n "__fish_plat_using_subcommand env; and __fish_seen_subcommand_from show" -l context -d 'Context (platform connection) to use instead of the current one' -r
complete -c plat -n "__fish_plat_using_subcommand env; and __fish_seen_subcommand_from show" -l account -d 'Account to act in (default: your own)' -r
complete -c plat -n "__fish_plat_using_subcommand env; and __fish_seen_subcommand_from show" -l user -d 'Platform user to act as on an embedded platform (default: the local operator)' -r
complete -c plat -n "__fish_plat_using_subcommand env; and __fish_seen_subcommand_from show" -s q -l quiet -d 'Print only data and errors'
complete -c plat -n "__fish_plat_using_subcommand env; and __fish_seen_subcommand_from show" -s v -l verbose -d 'Say more about what is happening (repeat for more)'
complete -c plat -n "__fish_plat_using_subcommand env; and __fish_seen_subcommand_from show" -l no-input -d 'Never prompt; fail listing every missing value instead'
complete -c plat -n "__fish_plat_using_subcommand env; and __fish_seen_subcommand_from show" -s y -l yes -d 'Answer yes to confirmations'
complete -c plat -n "__fish_plat_using_subcommand env; and __fish_seen_subcommand_from show" -s h -l help -d 'Print help'
complete -c plat -n "__fish_plat_using_subcommand env; and __fish_seen_subcommand_from show" -s V -l version -d 'Print version'
complete -c plat -n "__fish_plat_using_subcommand env; and __fish_seen_subcommand_from logs" -s o -l output -d 'Output format: a table for people, JSON or YAML documents for programs' -r -f -a "table\t''
json\t''
yaml\t''"
complete -c plat -n "__fish_plat_using_subcommand env; and __fish_seen_subcommand_from logs" -l context -d 'Context (platform connection) to use instead of the current one' -r
complete -c plat -n "__fish_plat_using_subcommand env; and __fish_seen_subcommand_from logs" -l account -d 'Account to act in (default: your own)' -r
complete -c plat -n "__fish_plat_using_subcommand env; and __fish_seen_subcommand_from logs" -l user -d 'Platform user to act as on an embedded platform (default: the local operator)' -r
complete -c plat -n "__fish_plat_using_subcommand env; and __fish_seen_subcommand_from logs" -s f -l follow -d 'Keep printing as the log grows, until the environment\'s run ends'
complete -c plat -n "__fish_plat_using_subcommand env; and __fish_seen_subcommand_from logs" -s q -l quiet -d 'Print only data and errors'
complete -c plat -n "__fish_plat_using_subcommand env; and __fish_seen_subcommand_from logs" -s v -l verbose -d 'Say more about what is happening (repeat for more)'
complete -c plat -n "__fish_plat_using_subcommand env; and __fish_seen_subcommand_from logs" -l no-input -d 'Never prompt; fail listing every missing value instead'
complete -c plat -n "__fish_plat_using_subcommand env; and __fish_seen_subcommand_from logs" -s y -l yes -d 'Answer yes to confirmations'
complete -c plat -n "__fish_plat_using_subcommand env; and __fish_seen_subcommand_from logs" -s h -l help -d 'Print help'
complete -c plat -n "__fish_plat_using_subcommand env; and __fish_seen_subcommand_from logs" -s V -l version -d 'Print version'
complete -c plat -n "__fish_plat_using_subcommand env; and __fish_seen_subcommand_from outputs" -s o -l output -d 'Output format: a table for people, JSON or YAML documents for programs' -r -f -a "table\t''
json\t''
yaml\t''"
complete -c plat -n "__fish_plat_using_subcommand env; and __fish_seen_subcommand_from outputs" -l context -d 'Context (platform connection) to use instead of the current one' -r
complete -c plat -n "__fish_plat_using_subcommand env; and __fish_seen_subcommand_from outputs" -l account -d 'Account to act in (default: your own)' -r
complete -c plat -n "__fish_plat_using_subcommand env; and __fish_seen_subcommand_from outputs" -l user -d 'Platform user to act as on an embedded platform (default: the local operator)' -r
complete -c plat -n "__fish_plat_using_subcommand env; and __fish_seen_subcommand_from outputs" -s q -l quiet -d 'Print only data and errors'
complete -c plat -n "__fish_plat_using_subcommand env; and __fish_seen_subcommand_from outputs" -s v -l verbose -d 'Say more about what is happening (repeat for more)'
complete -c plat -n "__fish_plat_using_subcommand env; and __fish_seen_subcommand_from outputs" -l no-input -d 'Never prompt; fail listing every missing value instead'
complete -c plat -n "__fish_plat_using_subcommand env; and __fish_seen_subcommand_from outputs" -s y -l yes -d 'Answer yes to confirmations'
complete -c plat -n "__fish_plat_using_subcommand env; and __fish_seen_subcommand_from outputs" -s h -l help -d 'Print help'
complete -c plat -n "__fish_plat_using_subcommand env; and __fish_seen_subcommand_from outputs" -s V -l version -d 'Print version'
complete -c plat -n "__fish_plat_using_subcommand env; and __fish_seen_subcommand_from extend" -s o -l output -d 'Output format: a table for people, JSON or YAML documents for programs' -r -f -a "table\t''
json\t''
yaml\t''"
complete -c plat -n "__fish_plat_using_subcommand env; and __fish_seen_subcommand_from extend" -l context -d 'Context (platform connection) to use instead of the current one' -r
complete -c plat -n "__fish_plat_using_subcommand env; and __fish_seen_subcommand_from extend" -l account -d 'Account to act in (default: your own)' -r
complete -c plat -n "__fish_plat_using_subcommand env; and __fish_seen_subcommand_from extend" -l user -d 'Platform user to act as on an embedded platform (default: the local operator)' -r
complete -c plat -n "__fish_plat_using_subcommand env; and __fish_seen_subcommand_from extend" -s q -l quiet -d 'Print only data and errors'
complete -c plat -n "__fish_plat_using_subcommand env; and __fish_seen_subcommand_from extend" -s v -l verbose -d 'Say more about what is happening (repeat for more)'
complete -c plat -n "__fish_plat_using_subcommand env; and __fish_seen_subcommand_from extend" -l no-input -d 'Never prompt; fail listing every missing value instead'
complete -c plat -n "__fish_plat_using_subcommand env; and __fish_seen_subcommand_from extend" -s y -l yes -d 'Answer yes to confirmations'
complete -c plat -n "__fish_plat_using_subcommand env; and __fish_seen_subcommand_from extend" -s h -l help -d 'Print help'
complete -c plat -n "__fish_plat_using_subcommand env; and __fish_seen_subcommand_from extend" -s V -l version -d 'Print version'
complete -c plat -n "__fish_plat_using_subcommand env; and __fish_seen_subcommand_from down" -s o -l output -d 'Output format: a table for people, JSON or YAML documents for programs' -r -f -a "table\t''
json\t''
yaml\t''"
complete -c plat -n "__fish_plat_using_subcommand env; and __fish_seen_subcommand_from down" -l context -d 'Context (platform connection) to use instead of the current one' -r
complete -c plat -n "__fish_plat_using_subcommand env; and __fish_seen_subcommand_from down" -l account -d 'Account to act in (default: your own)' -r
complete -c plat -n "__fish_plat_using_subcommand env; and __fish_seen_subcommand_from down" -l user -d 'Platform user to act as on an embedded platform (default: the local operator)' -r
complete -c plat -n "__fish_plat_using_subcommand env; and __fish_seen_subcommand_from down" -s q -l quiet -d 'Print only data and errors'
complete -c plat -n "__fish_plat_using_subcommand env; and __fish_seen_subcommand_from down" -s v -l verbose -d 'Say more about what is happening (repeat for more)'
complete -c plat -n "__fish_plat_using_subcommand env; and __fish_seen_subcommand_from down" -l no-input -d 'Never prompt; fail listing every missing value instead'
complete -c plat -n "__fish_plat_using_subcommand env; and __fish_seen_subcommand_from down" -s y -l yes -d 'Answer yes to confirmations'
complete -c plat -n "__fish_plat_using_subcommand env; and __fish_seen_subcommand_from down" -s h -l help -d 'Print help'
complete -c plat -n "__fish_plat_using_subcommand env; and __fish_seen_subcommand_from down" -s V -l version -d 'Print version'
complete -c plat -n "__fish_plat_using_subcommand env; and __fish_seen_subcommand_from quota" -s o -l output -d 'Output format: a table for people, JSON or YAML documents for programs' -r -f -a "table\t''
json\t''
yaml\t''"
complete -c plat -n "__fish_plat_using_subcommand env; and __fish_seen_subcommand_from quota" -l context -d 'Context (platform connection) to use instead of the current one' -r
complete -c plat -n "__fish_plat_using_subcommand env; and __fish_seen_subcommand_from quota" -l account -d 'Account to act in (default: your own)' -r
complete -c plat -n "__fish_plat_using_subcommand env; and __fish_seen_subcommand_from quota" -l user -d 'Platform user to act as on an embedded platform (default: the local operator)' -r
complete -c plat -n "__fish_plat_using_subcommand env; and __fish_seen_subcommand_from quota" -s q -l quiet -d 'Print only data and errors'
complete -c plat -n "__fish_plat_using_subcommand env; and __fish_seen_subcommand_from quota" -s v -l verbose -d 'Say more about what is happening (repeat for more)'
complete -c plat -n "__fish_plat_using_subcommand env; and __fish_seen_subcommand_from quota" -l no-input -d 'Never prompt; fail listing every missing value instead'
complete -c plat -n "__fish_plat_using_subcommand env; and __fish_seen_subcommand_from quota" -s y -l yes -d 'Answer yes to confirmations'
complete -c plat -n "__fish_plat_using_subcommand env; and __fish_seen_subcommand_from quota" -s h -l help -d 'Print help'
complete -c plat -n "__fish_plat_using_subcommand env; and __fish_seen_subcommand_from quota" -s V -l version -d 'Print version'
complete -c plat -n "__fish_plat_using_subcommand env; and __fish_seen_subcommand_from reap" -s o -l output -d 'Output format: a table for people, JSON or YAML documents for programs' -r -f -a "table\t''
json\t''
yaml\t''"
complete -c plat -n "__fish_plat_using_subcommand env; and __fish_seen_subcommand_from reap" -l context -d 'Context (platform connection) to use instead of the current one' -r
complete -c plat -n "__fish_plat_using_subcommand env; and __fish_seen_subcommand_from reap" -l account -d 'Account to act in (default: your own)' -r
complete -c plat -n "__fish_plat_using_subcommand env; and __fish_seen_subcommand_from reap" -l user -d 'Platform user to act as on an embedded platform (default: the local operator)' -r
complete -c plat -n "__fish_plat_using_subcommand env; and __fish_seen_subcommand_from reap" -s q -l quiet -d 'Print only data and errors'
complete -c plat -n "__fish_plat_using_subcommand env; and __fish_seen_subcommand_from reap" -s v -l verbose -d 'Say more about what is happening (repeat for more)'
complete -c plat -n "__fish_plat_using_subcommand env; and __fish_seen_subcommand_from reap" -l no-input -d 'Never prompt; fail listing every missing value instead'
complete -c plat -n "__fish_plat_using_subcommand env; and __fish_seen_subcommand_from reap" -s y -l yes -d 'Answer yes to confirmations'
complete -c plat -n "__fish_plat_using_subcommand env; and __fish_seen_subcommand_from reap" -s h -l help -d 'Print help'
complete -c plat -n "__fish_plat_using_subcommand env; and __fish_seen_subcommand_from reap" -s V -l version -d 'Print version'
complete -c plat -n "__fish_plat_using_subcommand env; and __fish_seen_subcommand_from approve" -s m -l comment -d 'Why: shown with the decision in `plat env show`' -r
complete -c plat -n "__fish_plat_using_subcommand env; and __fish_seen_subcommand_from approve" -s o -l output -d 'Output format: a table for people, JSON or YAML documents for programs' -r -f -a "table\t''
json\t''
yaml\t''"
complete -c plat -n "__fish_plat_using_subcommand env; and __fish_seen_subcommand_from approve" -l context -d 'Context (platform connection) to use instead of the current one' -r
complete -c plat -n "__fish_plat_using_subcommand env; and __fish_seen_subcommand_from approve" -l account -d 'Account to act in (default: your own)' -r
complete -c plat -n "__fish_plat_using_subcommand env; and __fish_seen_subcommand_from approve" -l user -d 'Platform user to act as on an embedded platform (default: the local operator)' -r
complete -c plat -n "__fish_plat_using_subcommand env; and __fish_seen_subcommand_from approve" -s q -l quiet -d 'Print only data and errors'
complete -c plat -n "__fish_plat_using_subcommand env; and __fish_seen_subcommand_from approve" -s v -l verbose -d 'Say more about what is happening (repeat for more)'
complete -c plat -n "__fish_plat_using_subcommand env; and __fish_seen_subcommand_from approve" -l no-input -d 'Never prompt; fail listing every missing value instead'
complete -c plat -n "__fish_plat_using_subcommand env; and __fish_seen_subcommand_from approve" -s y -l yes -d 'Answer yes to confirmations'
complete -c plat -n "__fish_plat_using_subcommand env; and __fish_seen_subcommand_from approve" -s h -l help -d 'Print help'
complete -c plat -n "__fish_plat_using_subcommand env; and __fish_seen_subcommand_from approve" -s V -l version -d 'Print version'
complete -c plat -n "__fish_plat_using_subcommand env; and __fish_seen_subcommand_from reject" -s m -l comment -d 'Why: shown with the decision in `plat env show`' -r
complete -c plat -n "__fish_plat_using_subcommand env; and __fish_seen_subcommand_from reject" -s o -l output -d 'Output format: a table for people, JSON or YAML documents for programs' -r -f -a "table\t''
json\t''
yaml\t''"
complete -c plat -n "__fish_plat_using_subcommand env; and __fish_seen_subcommand_from reject" -l context -d 'Context (platform connection) to use instead of the current one' -r
complete -c plat -n "__fish_plat_using_subcommand env; and __fish_seen_subcommand_from reject" -l account -d 'Account to act in (default: your own)' -r
complete -c plat -n "__fish_plat_using_subcommand env; and __fish_seen_subcommand_from reject" -l user -d 'Platform user to act as on an embedded platform (default: the local operator)' -r
complete -c plat -n "__fish_plat_using_subcommand env; and __fish_seen_subcommand_from reject" -s q -l quiet -d 'Print only data and errors'
complete -c plat -n "__fish_plat_using_subcommand env; and __fish_seen_subcommand_from reject" -s v -l verbose -d 'Say more about what is happening (repeat for more)'
complete -c plat -n "__fish_plat_using_subcommand env; and __fish_seen_subcommand_from reject" -l no-input -d 'Never prompt; fail listing every missing value instead'
complete -c plat -n "__fish_plat_using_subcommand env; and __fish_seen_subcommand_from reject" -s y -l yes -d 'Answer yes to confirmations'
complete -c plat -n "__fish_plat_using_subcommand env; and __fish_seen_subcommand_from reject" -s h -l help -d 'Print help'
complete -c plat -n "__fish_plat_using_subcommand env; and __fish_seen_subcommand_from reject" -s V -l version -d 'Print version'
complete -c plat -n "__fish_plat_using_subcommand env; and __fish_seen_subcommand_from help" -f -a "template" -d 'Environment templates: built-in ones and those in PLAT_TEMPLATE_PATH'
complete -c plat -n "__fish_plat_using_subcommand env; and __fish_seen_subcommand_from help" -f -a "up" -d 'Provision an environment from a template (Terraform/OpenTofu); it is destroyed when it expires'
complete -c plat -n "__fish_plat_using_subcommand env; and __fish_seen_subcommand_from help" -f -a "list" -d 'List this account\'s environments'
complete -c plat -n "__fish_plat_using_subcommand env; and __fish_seen_subcommand_from help" -f -a "show" -d 'Show an environment: status, expiry, resources, outputs'
complete -c plat -n "__fish_plat_using_subcommand env; and __fish_seen_subcommand_from help" -f -a "logs" -d 'Print the Terraform log of an environment\'s last run'
complete -c plat -n "__fish_plat_using_subcommand env; and __fish_seen_subcommand_from help" -f -a "outputs" -d 'Print an environment\'s outputs (sensitive values redacted)'
complete -c plat -n "__fish_plat_using_subcommand env; and __fish_seen_subcommand_from help" -f -a "extend" -d 'Push an environment\'s expiry to now + DURATION (capped by the policy\'s maximum lifetime)'
complete -c plat -n "__fish_plat_using_subcommand env; and __fish_seen_subcommand_from help" -f -a "down" -d 'Destroy an environment; an environment already gone is not an error'
complete -c plat -n "__fish_plat_using_subcommand env; and __fish_seen_subcommand_from help" -f -a "quota" -d 'How many environments you may still create today'
complete -c plat -n "__fish_plat_using_subcommand env; and __fish_seen_subcommand_from help" -f -a "reap" -d 'Destroy every expired environment (for cron or a CI schedule)'
complete -c plat -n "__fish_plat_using_subcommand env; and __fish_seen_subcommand_from help" -f -a "approve" -d 'Approve an environment of a protected template; its requester\'s `env up` then provisions it'
complete -c plat -n "__fish_plat_using_subcommand env; and __fish_seen_subcommand_from help" -f -a "reject" -d 'Reject an environment of a protected template; nothing is provisioned'
complete -c plat -n "__fish_plat_using_subcommand env; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c plat -n "__fish_plat_using_subcommand policy; and not __fish_seen_subcommand_from show set help" -s o -l output -d 'Output format: a table for people, JSON or YAML documents for programs' -r -f -a "table\t''
json\t''
yaml\t''"
complete -c plat -n "__fish_plat_using_subcommand policy; and not __fish_seen_subcommand_from show set help" -l context -d 'Context (platform connection) to use instead of the current one' -r
complete -c plat -n "__fish_plat_using_subcommand policy; and not __fish_seen_subcommand_from show set help" -l account -d 'Account to act in (default: your own)' -r
complete -c plat -n "__fish_plat_using_subcommand policy; and not __fish_seen_subcommand_from show set help" -l user -d 'Platform user to act as on an embedded platform (default: the local operator)' -r
complete -c plat -n "__fish_plat_using_subcommand policy; and not __fish_seen_subcommand_from show set help" -s q -l quiet -d 'Print only data and errors'
complete -c plat -n "__fish_plat_using_subcommand policy; and not __fish_seen_subcommand_from show set help" -s v -l verbose -d 'Say more about what is happening (repeat for more)'
complete -c plat -n "__fish_plat_using_subcommand policy; and not __fish_seen_subcommand_from show set help" -l no-input -d 'Never prompt; fail listing every missing value instead'
complete -c plat -n "__fish_plat_using_subcommand policy; and not __fish_seen_subcommand_from show set help" -s y -l yes -d 'Answer yes to confirmations'
complete -c plat -n "__fish_plat_using_subcommand policy; and not __fish_seen_subcommand_from show set help" -s h -l help -d 'Print help'
complete -c plat -n "__fish_plat_using_subcommand policy; and not __fish_seen_subcommand_from show set help" -s V -l version -d 'Print version'
complete -c plat -n "__fish_plat_using_subcommand policy; and not __fish_seen_subcommand_from show set help" -f -a "show" -d 'Show the environment policy in force for the current account'
complete -c plat -n "__fish_plat_using_subcommand policy; and not __fish_seen_subcommand_from show set help" -f -a "set" -d 'Tighten the environment policy of the current account, or of a tenant it owns'
complete -c plat -n "__fish_plat_using_subcommand policy; and not __fish_seen_subcommand_from show set help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c plat -n "__fish_plat_using_subcommand policy; and __fish_seen_subcommand_from show" -s o -l output -d 'Output format: a table for people, JSON or YAML documents for programs' -r -f -a "table\t''
json\t''
yaml\t''"
complete -c plat -n "__fish_plat_using_subcommand policy; and __fish_seen_subcommand_from show" -l context -d 'Context (platform connection) to use instead of the current one' -r
complete -c plat -n "__fish_plat_using_subcommand policy; and __fish_seen_subcommand_from show" -l account -d 'Account to act in (default: your own)' -r
complete -c plat -n "__fish_plat_using_subcommand policy; and __fish_seen_subcommand_from show" -l user -d 'Platform user to act as on an embedded platform (default: the local operator)' -r
complete -c plat -n "__fish_plat_using_subcommand policy; and __fish_seen_subcommand_from show" -s q -l quiet -d 'Print only data and errors'
complete -c plat -n "__fish_plat_using_subcommand policy; and __fish_seen_subcommand_from show" -s v -l verbose -d 'Say more about what is happening (repeat for more)'
complete -c plat -n "__fish_plat_using_subcommand policy; and __fish_seen_subcommand_from show" -l no-input -d 'Never prompt; fail listing every missing value instead'
complete -c plat -n "__fish_plat_using_subcommand policy; and __fish_seen_subcommand_from show" -s y -l yes -d 'Answer yes to confirmations'
complete -c plat -n "__fish_plat_using_subcommand policy; and __fish_seen_subcommand_from show" -s h -l help -d 'Print help'
complete -c plat -n "__fish_plat_using_subcommand policy; and __fish_seen_subcommand_from show" -s V -l version -d 'Print version'
complete -c plat -n "__fish_plat_using_subcommand policy; and __fish_seen_subcommand_from set" -l tenant -d 'Set the policy of this tenant instead of the current account\'s' -r
complete -c plat -n "__fish_plat_using_subcommand policy; and __fish_seen_subcommand_from set" -l ttl-default -d 'Default lifetime of new environments, e.g. 30m' -r
complete -c plat -n "__fish_plat_using_subcommand policy; and __fish_seen_subcommand_from set" -l ttl-max -d 'Maximum lifetime from creation, e.g. 8h' -r
complete -c plat -n "__fish_plat_using_subcommand policy; and __fish_seen_subcommand_from set" -l envs-per-day -d 'Environments each user may create per day (UTC)' -r
complete -c plat -n "__fish_plat_using_subcommand policy; and __fish_seen_subcommand_from set" -l require-approval -d 'Environments of this template need an approver\'s decision first (repeatable)' -r
complete -c plat -n "__fish_plat_using_subcommand policy; and __fish_seen_subcommand_from set" -l no-require-approval -d 'Stop requiring approval for this template here (one set above still holds; repeatable)' -r
complete -c plat -n "__fish_plat_using_subcommand policy; and __fish_seen_subcommand_from set" -l budget-monthly -d 'Monthly budget of the account and its sub-accounts, in the platform\'s currency' -r
complete -c plat -n "__fish_plat_using_subcommand policy; and __fish_seen_subcommand_from set" -s o -l output -d 'Output format: a table for people, JSON or YAML documents for programs' -r -f -a "table\t''
json\t''
yaml\t''"
complete -c plat -n "__fish_plat_using_subcommand policy; and __fish_seen_subcommand_from set" -l context -d 'Context (platform connection) to use instead of the current one' -r
complete -c plat -n "__fish_plat_using_subcommand policy; and __fish_seen_subcommand_from set" -l account -d 'Account to act in (default: your own)' -r
complete -c plat -n "__fish_plat_using_subcommand policy; and __fish_seen_subcommand_from set" -l user -d 'Platform user to act as on an embedded platform (default: the local operator)' -r
complete -c plat -n "__fish_plat_using_subcommand policy; and __fish_seen_subcommand_from set" -s q -l quiet -d 'Print only data and errors'
complete -c plat -n "__fish_plat_using_subcommand policy; and __fish_seen_subcommand_from set" -s v -l verbose -d 'Say more about what is happening (repeat for more)'
complete -c plat -n "__fish_plat_using_subcommand policy; and __fish_seen_subcommand_from set" -l no-input -d 'Never prompt; fail listing every missing value instead'
complete -c plat -n "__fish_plat_using_subcommand policy; and __fish_seen_subcommand_from set" -s y -l yes -d 'Answer yes to confirmations'
complete -c plat -n "__fish_plat_using_subcommand policy; and __fish_seen_subcommand_from set" -s h -l help -d 'Print help'
complete -c plat -n "__fish_plat_using_subcommand policy; and __fish_seen_subcommand_from set" -s V -l version -d 'Print version'
complete -c plat -n "__fish_plat_using_subcommand policy; and __fish_seen_subcommand_from help" -f -a "show" -d 'Show the environment policy in force for the current account'
complete -c plat -n "__fish_plat_using_subcommand policy; and __fish_seen_subcommand_from help" -f -a "set" -d 'Tighten the environment policy of the current account, or of a tenant it owns'
complete -c plat -n "__fish_plat_using_subcommand policy; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c plat -n "__fish_plat_using_subcommand audit; and not __fish_seen_subcommand_from list ls help" -s o -l output -d 'Output format: a table for people, JSON or YAML documents for programs' -r -f -a "table\t''
json\t''
yaml\t''"
complete -c plat -n "__fish_plat_using_subcommand audit; and not __fish_seen_subcommand_from list ls help" -l context -d 'Context (platform connection) to use instead of the current one' -r
complete -c plat -n "__fish_plat_using_subcommand audit; and not __fish_seen_subcommand_from list ls help" -l account -d 'Account to act in (default: your own)' -r
complete -c plat -n "__fish_plat_using_subcommand audit; and not __fish_seen_subcommand_from list ls help" -l user -d 'Platform user to act as on an embedded platform (default: the local operator)' -r
complete -c plat -n "__fish_plat_using_subcommand audit; and not __fish_seen_subcommand_from list ls help" -s q -l quiet -d 'Print only data and errors'
complete -c plat -n "__fish_plat_using_subcommand audit; and not __fish_seen_subcommand_from list ls help" -s v -l verbose -d 'Say more about what is happening (repeat for more)'
complete -c plat -n "__fish_plat_using_subcommand audit; and not __fish_seen_subcommand_from list ls help" -l no-input -d 'Never prompt; fail listing every missing value instead'
complete -c plat -n "__fish_plat_using_subcommand audit; and not __fish_seen_subcommand_from list ls help" -s y -l yes -d 'Answer yes to confirmations'
complete -c plat -n "__fish_plat_using_subcommand audit; and not __fish_seen_subcommand_from list ls help" -s h -l help -d 'Print help'
complete -c plat -n "__fish_plat_using_subcommand audit; and not __fish_seen_subcommand_from list ls help" -s V -l version -d 'Print version'
complete -c plat -n "__fish_plat_using_subcommand audit; and not __fish_seen_subcommand_from list ls help" -f -a "list" -d 'List who did what in this account and its sub-accounts, newest first (needs audit:read)'
complete -c plat -n "__fish_plat_using_subcommand audit; and not __fish_seen_subcommand_from list ls help" -f -a "ls" -d 'List who did what in this account and its sub-accounts, newest first (needs audit:read)'
complete -c plat -n "__fish_plat_using_subcommand audit; and not __fish_seen_subcommand_from list ls help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c plat -n "__fish_plat_using_subcommand audit; and __fish_seen_subcommand_from list" -l since -d 'Only records this recent: an age such as 24h or 7d' -r
complete -c plat -n "__fish_plat_using_subcommand audit; and __fish_seen_subcommand_from list" -l actor -d 'Only what this user (or service identity) did' -r
complete -c plat -n "__fish_plat_using_subcommand audit; and __fish_seen_subcommand_from list" -l action -d 'Only this action, e.g. env.down, account.create, group.update' -r
complete -c plat -n "__fish_plat_using_subcommand audit; and __fish_seen_subcommand_from list" -l outcome -d 'Only writes that went through, or only refusals' -r -f -a "ok\t''
refused\t''"
complete -c plat -n "__fish_plat_using_subcommand audit; and __fish_seen_subcommand_from list" -l limit -d 'Show at most this many records' -r
complete -c plat -n "__fish_plat_using_subcommand audit; and __fish_seen_subcommand_from list" -s o -l output -d 'Output format: a table for people, JSON or YAML documents for programs' -r -f -a "table\t''
json\t''
yaml\t''"
complete -c plat -n "__fish_plat_using_subcommand audit; and __fish_seen_subcommand_from list" -l context -d 'Context (platform connection) to use instead of the current one' -r
complete -c plat -n "__fish_plat_using_subcommand audit; and __fish_seen_subcommand_from list" -l account -d 'Account to act in (default: your own)' -r
complete -c plat -n "__fish_plat_using_subcommand audit; and __fish_seen_subcommand_from list" -l user -d 'Platform user to act as on an embedded platform (default: the local operator)' -r
complete -c plat -n "__fish_plat_using_subcommand audit; and __fish_seen_subcommand_from list" -s q -l quiet -d 'Print only data and errors'
complete -c plat -n "__fish_plat_using_subcommand audit; and __fish_seen_subcommand_from list" -s v -l verbose -d 'Say more about what is happening (repeat for more)'
complete -c plat -n "__fish_plat_using_subcommand audit; and __fish_seen_subcommand_from list" -l no-input -d 'Never prompt; fail listing every missing value instead'
complete -c plat -n "__fish_plat_using_subcommand audit; and __fish_seen_subcommand_from list" -s y -l yes -d 'Answer yes to confirmations'
complete -c plat -n "__fish_plat_using_subcommand audit; and __fish_seen_subcommand_from list" -s h -l help -d 'Print help'
complete -c plat -n "__fish_plat_using_subcommand audit; and __fish_seen_subcommand_from list" -s V -l version -d 'Print version'
complete -c plat -n "__fish_plat_using_subcommand audit; and __fish_seen_subcommand_from ls" -l since -d 'Only records this recent: an age such as 24h or 7d' -r
complete -c plat -n "__fish_plat_using_subcommand audit; and __fish_seen_subcommand_from ls" -l actor -d 'Only what this user (or service identity) did' -r
complete -c plat -n "__fish_plat_using_subcommand audit; and __fish_seen_subcommand_from ls" -l action -d 'Only this action, e.g. env.down, account.create, group.update' -r
complete -c plat -n "__fish_plat_using_subcommand audit; and __fish_seen_subcommand_from ls" -l outcome -d 'Only writes that went through, or only refusals' -r -f -a "ok\t''
refused\t''"
complete -c plat -n "__fish_plat_using_subcommand audit; and __fish_seen_subcommand_from ls" -l limit -d 'Show at most this many records' -r
complete -c plat -n "__fish_plat_using_subcommand audit; and __fish_seen_subcommand_from ls" -s o -l output -d 'Output format: a table for people, JSON or YAML documents for programs' -r -f -a "table\t''
json\t''
yaml\t''"
complete -c plat -n "__fish_plat_using_subcommand audit; and __fish_seen_subcommand_from ls" -l context -d 'Context (platform connection) to use instead of the current one' -r
complete -c plat -n "__fish_plat_using_subcommand audit; and __fish_seen_subcommand_from ls" -l account -d 'Account to act in (default: your own)' -r
complete -c plat -n "__fish_plat_using_subcommand audit; and __fish_seen_subcommand_from ls" -l user -d 'Platform user to act as on an embedded platform (default: the local operator)' -r
complete -c plat -n "__fish_plat_using_subcommand audit; and __fish_seen_subcommand_from ls" -s q -l quiet -d 'Print only data and errors'
complete -c plat -n "__fish_plat_using_subcommand audit; and __fish_seen_subcommand_from ls" -s v -l verbose -d 'Say more about what is happening (repeat for more)'
complete -c plat -n "__fish_plat_using_subcommand audit; and __fish_seen_subcommand_from ls" -l no-input -d 'Never prompt; fail listing every missing value instead'
complete -c plat -n "__fish_plat_using_subcommand audit; and __fish_seen_subcommand_from ls" -s y -l yes -d 'Answer yes to confirmations'
complete -c plat -n "__fish_plat_using_subcommand audit; and __fish_seen_subcommand_from ls" -s h -l help -d 'Print help'
complete -c plat -n "__fish_plat_using_subcommand audit; and __fish_seen_subcommand_from ls" -s V -l version -d 'Print version'
complete -c plat -n "__fish_plat_using_subcommand audit; and __fish_seen_subcommand_from help" -f -a "list" -d 'List who did what in this account and its sub-accounts, newest first (needs audit:read)'
complete -c plat -n "__fish_plat_using_subcommand audit; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c plat -n "__fish_plat_using_subcommand spend" -l by -d 'Sum by account, tenant, template, owner or label:KEY (e.g. label:appgear.io/suite)' -r
complete -c plat -n "__fish_plat_using_subcommand spend" -l month -d 'Month to report, YYYY-MM (UTC; default: this month, up to now)' -r
complete -c plat -n "__fish_plat_using_subcommand spend" -s o -l output -d 'Output format: a table for people, JSON or YAML documents for programs' -r -f -a "table\t''
json\t''
yaml\t''"
complete -c plat -n "__fish_plat_using_subcommand spend" -l context -d 'Context (platform connection) to use instead of the current one' -r
complete -c plat -n "__fish_plat_using_subcommand spend" -l account -d 'Account to act in (default: your own)' -r
complete -c plat -n "__fish_plat_using_subcommand spend" -l user -d 'Platform user to act as on an embedded platform (default: the local operator)' -r
complete -c plat -n "__fish_plat_using_subcommand spend" -s q -l quiet -d 'Print only data and errors'
complete -c plat -n "__fish_plat_using_subcommand spend" -s v -l verbose -d 'Say more about what is happening (repeat for more)'
complete -c plat -n "__fish_plat_using_subcommand spend" -l no-input -d 'Never prompt; fail listing every missing value instead'
complete -c plat -n "__fish_plat_using_subcommand spend" -s y -l yes -d 'Answer yes to confirmations'
complete -c plat -n "__fish_plat_using_subcommand spend" -s h -l help -d 'Print help'
complete -c plat -n "__fish_plat_using_subcommand spend" -s V -l version -d 'Print version'
complete -c plat -n "__fish_plat_using_subcommand automation; and not __fish_seen_subcommand_from apply list ls show delete rm run runs logs cancel help" -s o -l output -d 'Output format: a table for people, JSON or YAML documents for programs' -r -f -a "table\t''
json\t''
yaml\t''"
complete -c plat -n "__fish_plat_using_subcommand automation; and not __fish_seen_subcommand_from apply list ls show delete rm run runs logs cancel help" -l context -d 'Context (platform connection) to use instead of the current one' -r
complete -c plat -n "__fish_plat_using_subcommand automation; and not __fish_seen_subcommand_from apply list ls show delete rm run runs logs cancel help" -l account -d 'Account to act in (default: your own)' -r
complete -c plat -n "__fish_plat_using_subcommand automation; and not __fish_seen_subcommand_from apply list ls show delete rm run runs logs cancel help" -l user -d 'Platform user to act as on an embedded platform (default: the local operator)' -r
complete -c plat -n "__fish_plat_using_subcommand automation; and not __fish_seen_subcommand_from apply list ls show delete rm run runs logs cancel help" -s q -l quiet -d 'Print only data and errors'
complete -c plat -n "__fish_plat_using_subcommand automation; and not __fish_seen_subcommand_from apply list ls show delete rm run runs logs cancel help" -s v -l verbose -d 'Say more about what is happening (repeat for more)'
complete -c plat -n "__fish_plat_using_subcommand automation; and not __fish_seen_subcommand_from apply list ls show delete rm run runs logs cancel help" -l no-input -d 'Never prompt; fail listing every missing value instead'
complete -c plat -n "__fish_plat_using_subcommand automation; and not __fish_seen_subcommand_from apply list ls show delete rm run runs logs cancel help" -s y -l yes -d 'Answer yes to confirmations'
complete -c plat -n "__fish_plat_using_subcommand automation; and not __fish_seen_subcommand_from apply list ls show delete rm run runs logs cancel help" -s h -l help -d 'Print help'
complete -c plat -n "__fish_plat_using_subcommand automation; and not __fish_seen_subcommand_from apply list ls show delete rm run runs logs cancel help" -s V -l version -d 'Print version'
complete -c plat -n "__fish_plat_using_subcommand automation; and not __fish_seen_subcommand_from apply list ls show delete rm run runs logs cancel help" -f -a "apply" -d 'Create or update an automation from a YAML definition (apiVersion: plat.dev/v1, kind: Automation)'
complete -c plat -n "__fish_plat_using_subcommand automation; and not __fish_seen_subcommand_from apply list ls show delete rm run runs logs cancel help" -f -a "list" -d 'List this account\'s automations'
complete -c plat -n "__fish_plat_using_subcommand automation; and not __fish_seen_subcommand_from apply list ls show delete rm run runs logs cancel help" -f -a "ls" -d 'List this account\'s automations'
complete -c plat -n "__fish_plat_using_subcommand automation; and not __fish_seen_subcommand_from apply list ls show delete rm run runs logs cancel help" -f -a "show" -d 'Show an automation: trigger, parameters, steps'
complete -c plat -n "__fish_plat_using_subcommand automation; and not __fish_seen_subcommand_from apply list ls show delete rm run runs logs cancel help" -f -a "delete" -d 'Delete an automation (its runs stay on record)'
complete -c plat -n "__fish_plat_using_subcommand automation; and not __fish_seen_subcommand_from apply list ls show delete rm run runs logs cancel help" -f -a "rm" -d 'Delete an automation (its runs stay on record)'
complete -c plat -n "__fish_plat_using_subcommand automation; and not __fish_seen_subcommand_from apply list ls show delete rm run runs logs cancel help" -f -a "run" -d 'Run an automation now and follow it; exits 0 when it succeeds, 1 when it fails'
complete -c plat -n "__fish_plat_using_subcommand automation; and not __fish_seen_subcommand_from apply list ls show delete rm run runs logs cancel help" -f -a "runs" -d 'List runs, newest first'
complete -c plat -n "__fish_plat_using_subcommand automation; and not __fish_seen_subcommand_from apply list ls show delete rm run runs logs cancel help" -f -a "logs" -d 'Print the log of a run'
complete -c plat -n "__fish_plat_using_subcommand automation; and not __fish_seen_subcommand_from apply list ls show delete rm run runs logs cancel help" -f -a "cancel" -d 'Stop a run: its running step is killed'
complete -c plat -n "__fish_plat_using_subcommand automation; and not __fish_seen_subcommand_from apply list ls show delete rm run runs logs cancel help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c plat -n "__fish_plat_using_subcommand automation; and __fish_seen_subcommand_from apply" -s f -l file -d 'Definition file (YAML), or - for stdin' -r -F
complete -c plat -n "__fish_plat_using_subcommand automation; and __fish_seen_subcommand_from apply" -s o -l output -d 'Output format: a table for people, JSON or YAML documents for programs' -r -f -a "table\t''
json\t''
yaml\t''"
complete -c plat -n "__fish_plat_using_subcommand automation; and __fish_seen_subcommand_from apply" -l context -d 'Context (platform connection) to use instead of the current one' -r
complete -c plat -n "__fish_plat_using_subcommand automation; and __fish_seen_subcommand_from apply" -l account -d 'Account to act in (default: your own)' -r
complete -c plat -n "__fish_plat_using_subcommand automation; and __fish_seen_subcommand_from apply" -l user -d 'Platform user to act as on an embedded platform (default: the local operator)' -r
complete -c plat -n "__fish_plat_using_subcommand automation; and __fish_seen_subcommand_from apply" -s q -l quiet -d 'Print only data and errors'
complete -c plat -n "__fish_plat_using_subcommand automation; and __fish_seen_subcommand_from apply" -s v -l verbose -d 'Say more about what is happening (repeat for more)'
complete -c plat -n "__fish_plat_using_subcommand automation; and __fish_seen_subcommand_from apply" -l no-input -d 'Never prompt; fail listing every missing value instead'
complete -c plat -n "__fish_plat_using_subcommand automation; and __fish_seen_subcommand_from apply" -s y -l yes -d 'Answer yes to confirmations'
complete -c plat -n "__fish_plat_using_subcommand automation; and __fish_seen_subcommand_from apply" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c plat -n "__fish_plat_using_subcommand automation; and __fish_seen_subcommand_from apply" -s V -l version -d 'Print version'
complete -c plat -n "__fish_plat_using_subcommand automation; and __fish_seen_subcommand_from list" -s o -l output -d 'Output format: a table for people, JSON or YAML documents for programs' -r -f -a "table\t''
json\t''
yaml\t''"
complete -c plat -n "__fish_plat_using_subcommand automation; and __fish_seen_subcommand_from list" -l context -d 'Context (platform connection) to use instead of the current one' -r
complete -c plat -n "__fish_plat_using_subcommand automation; and __fish_seen_subcommand_from list" -l account -d 'Account to act in (default: your own)' -r
complete -c plat -n "__fish_plat_using_subcommand automation; and __fish_seen_subcommand_from list" -l user -d 'Platform user to act as on an embedded platform (default: the local operator)' -r
complete -c plat -n "__fish_plat_using_subcommand automation; and __fish_seen_subcommand_from list" -s q -l quiet -d 'Print only data and errors'
complete -c plat -n "__fish_plat_using_subcommand automation; and __fish_seen_subcommand_from list" -s v -l verbose -d 'Say more about what is happening (repeat for more)'
complete -c plat -n "__fish_plat_using_subcommand automation; and __fish_seen_subcommand_from list" -l no-input -d 'Never prompt; fail listing every missing value instead'
complete -c plat -n "__fish_plat_using_subcommand automation; and __fish_seen_subcommand_from list" -s y -l yes -d 'Answer yes to confirmations'
complete -c plat -n "__fish_plat_using_subcommand automation; and __fish_seen_subcommand_from list" -s h -l help -d 'Print help'
complete -c plat -n "__fish_plat_using_subcommand automation; and __fish_seen_subcommand_from list" -s V -l version -d 'Print version'
complete -c plat -n "__fish_plat_using_subcommand automation; and __fish_seen_subcommand_from ls" -s o -l output -d 'Output format: a table for people, JSON or YAML documents for programs' -r -f -a "table\t''
json\t''
yaml\t''"
complete -c plat -n "__fish_plat_using_subcommand automation; and __fish_seen_subcommand_from ls" -l context -d 'Context (platform connection) to use instead of the current one' -r
complete -c plat -n "__fish_plat_using_subcommand automation; and __fish_seen_subcommand_from ls" -l account -d 'Account to act in (default: your own)' -r
complete -c plat -n "__fish_plat_using_subcommand automation; and __fish_seen_subcommand_from ls" -l user -d 'Platform user to act as on an embedded platform (default: the local operator)' -r
complete -c plat -n "__fish_plat_using_subcommand automation; and __fish_seen_subcommand_from ls" -s q -l quiet -d 'Print only data and errors'
complete -c plat -n "__fish_plat_using_subcommand automation; and __fish_seen_subcommand_from ls" -s v -l verbose -d 'Say more about what is happening (repeat for more)'
complete -c plat -n "__fish_plat_using_subcommand automation; and __fish_seen_subcommand_from ls" -l no-input -d 'Never prompt; fail listing every missing value instead'
complete -c plat -n "__fish_plat_using_subcommand automation; and __fish_seen_subcommand_from ls" -s y -l yes -d 'Answer yes to confirmations'
complete -c plat -n "__fish_plat_using_subcommand automation; and __fish_seen_subcommand_from ls" -s h -l help -d 'Print help'
complete -c plat -n "__fish_plat_using_subcommand automation; and __fish_seen_subcommand_from ls" -s V -l version -d 'Print version'
complete -c plat -n "__fish_plat_using_subcommand automation; and __fish_seen_subcommand_from show" -s o -l output -d 'Output format: a table for people, JSON or YAML documents for programs' -r -f -a "table\t''
json\t''
yaml\t''"
complete -c plat -n "__fish_plat_using_subcommand automation; and __fish_seen_subcommand_from show" -l context -d 'Context (platform connection) to use instead of the current one' -r
complete -c plat -n "__fish_plat_using_subcommand automation; and __fish_seen_subcommand_from show" -l account -d 'Account to act in (default: your own)' -r
complete -c plat -n "__fish_plat_using_subcommand automation; and __fish_seen_subcommand_from show" -l user -d 'Platform user to act as on an embedded platform (default: the local operator)' -r
complete -c plat -n "__fish_plat_using_subcommand automation; and __fish_seen_subcommand_from show" -s q -l quiet -d 'Print only data and errors'
complete -c plat -n "__fish_plat_using_subcommand automation; and __fish_seen_subcommand_from show" -s v -l verbose -d 'Say more about what is happening (repeat for more)'
complete -c plat -n "__fish_plat_using_subcommand automation; and __fish_seen_subcommand_from show" -l no-input -d 'Never prompt; fail listing every missing value instead'
complete -c plat -n "__fish_plat_using_subcommand automation; and __fish_seen_subcommand_from show" -s y -l yes -d 'Answer yes to confirmations'
complete -c plat -n "__fish_plat_using_subcommand automation; and __fish_seen_subcommand_from show" -s h -l help -d 'Print help'
complete -c plat -n "__fish_plat_using_subcommand automation; and __fish_seen_subcommand_from show" -s V -l version -d 'Print version'
complete -c plat -n "__fish_plat_using_subcommand automation; and __fish_seen_subcommand_from delete" -s o -l output -d 'Output format: a table for people, JSON or YAML documents for programs' -r -f -a "table\t''
json\t''
yaml\t''"
complete -c plat -n "__fish_plat_using_subcommand automation; and __fish_seen_subcommand_from delete" -l context -d 'Context (platform connection) to use instead of the current one' -r
complete -c plat -n "__fish_plat_using_subcommand automation; and __fish_seen_subcommand_from delete" -l account -d 'Account to act in (default: your own)' -r
complete -c plat -n "__fish_plat_using_subcommand automation; and __fish_seen_subcommand_from delete" -l user -d 'Platform user to act as on an embedded platform (default: the local operator)' -r
complete -c plat -n "__fish_plat_using_subcommand automation; and __fish_seen_subcommand_from delete" -s q -l quiet -d 'Print only data and errors'
complete -c plat -n "__fish_plat_using_subcommand automation; and __fish_seen_subcommand_from delete" -s v -l verbose -d 'Say more about what is happening (repeat for more)'
complete -c plat -n "__fish_plat_using_subcommand automation; and __fish_seen_subcommand_from delete" -l no-input -d 'Never prompt; fail listing every missing value instead'
complete -c plat -n "__fish_plat_using_subcommand automation; and __fish_seen_subcommand_from delete" -s y -l yes -d 'Answer yes to confirmations'
complete -c plat -n "__fish_plat_using_subcommand automation; and __fish_seen_subcommand_from delete" -s h -l help -d 'Print help'
complete -c plat -n "__fish_plat_using_subcommand automation; and __fish_seen_subcommand_from delete" -s V -l version -d 'Print version'
complete -c plat -n "__fish_plat_using_subcommand automation; and __fish_seen_subcommand_from rm" -s o -l output -d 'Output format: a table for people, JSON or YAML documents for programs' -r -f -a "table\t''
json\t''
yaml\t''"
complete -c plat -n "__fish_plat_using_subcommand automation; and __fish_seen_subcommand_from rm" -l context -d 'Context (platform connection) to use instead of the current one' -r
complete -c plat -n "__fish_plat_using_subcommand automation; and __fish_seen_subcommand_from rm" -l account -d 'Account to act in (default: your own)' -r
complete -c plat -n "__fish_plat_using_subcommand automation; and __fish_seen_subcommand_from rm" -l user -d 'Platform user to act as on an embedded platform (default: the local operator)' -r
complete -c plat -n "__fish_plat_using_subcommand automation; and __fish_seen_subcommand_from rm" -s q -l quiet -d 'Print only data and errors'
complete -c plat -n "__fish_plat_using_subcommand automation; and __fish_seen_subcommand_from rm" -s v -l verbose -d 'Say more about what is happening (repeat for more)'
complete -c plat -n "__fish_plat_using_subcommand automation; and __fish_seen_subcommand_from rm" -l no-input -d 'Never prompt; fail listing every missing value instead'
complete -c plat -n "__fish_plat_using_subcommand automation; and __fish_seen_subcommand_from rm" -s y -l yes -d 'Answer yes to confirmations'
complete -c plat -n "__fish_plat_using_subcommand automation; and __fish_seen_subcommand_from rm" -s h -l help -d 'Print help'
complete -c plat -n "__fish_plat_using_subcommand automation; and __fish_seen_subcommand_from rm" -s V -l version -d 'Print version'
complete -c plat -n "__fish_plat_using_subcommand automation; and __fish_seen_subcommand_from run" -s p -l param -d 'Parameter value (repeatable)' -r
complete -c plat -n "__fish_plat_using_subcommand automation; and __fish_seen_subcommand_from run" -s o -l output -d 'Output format: a table for people, JSON or YAML documents for programs' -r -f -a "table\t''
json\t''
yaml\t''"
complete -c plat -n "__fish_plat_using_subcommand automation; and __fish_seen_subcommand_from run" -l context -d 'Context (platform connection) to use instead of the current one' -r
complete -c plat -n "__fish_plat_using_subcommand automation; and __fish_seen_subcommand_from run" -l account -d 'Account to act in (default: your own)' -r
complete -c plat -n "__fish_plat_using_subcommand automation; and __fish_seen_subcommand_from run" -l user -d 'Platform user to act as on an embedded platform (default: the local operator)' -r
complete -c plat -n "__fish_plat_using_subcommand automation; and __fish_seen_subcommand_from run" -l wait -d 'Wait for the run to end and exit with its result (the default)'
complete -c plat -n "__fish_plat_using_subcommand automation; and __fish_seen_subcommand_from run" -l detach -d 'Queue the run for the server\'s workers and return at once (needs `plat server`)'
complete -c plat -n "__fish_plat_using_subcommand automation; and __fish_seen_subcommand_from run" -s q -l quiet -d 'Print only data and errors'
complete -c plat -n "__fish_plat_using_subcommand automation; and __fish_seen_subcommand_from run" -s v -l verbose -d 'Say more about what is happening (repeat for more)'
complete -c plat -n "__fish_plat_using_subcommand automation; and __fish_seen_subcommand_from run" -l no-input -d 'Never prompt; fail listing every missing value instead'
complete -c plat -n "__fish_plat_using_subcommand automation; and __fish_seen_subcommand_from run" -s y -l yes -d 'Answer yes to confirmations'
complete -c plat -n "__fish_plat_using_subcommand automation; and __fish_seen_subcommand_from run" -s h -l help -d 'Print help'
complete -c plat -n "__fish_plat_using_subcommand automation; and __fish_seen_subcommand_from run" -s V -l version -d 'Print version'
complete -c plat -n "__fish_plat_using_subcommand automation; and __fish_seen_subcommand_from runs" -s o -l output -d 'Output format: a table for people, JSON or YAML documents for programs' -r -f -a "table\t''
json\t''
yaml\t''"
complete -c plat -n "__fish_plat_using_subcommand automation; and __fish_seen_subcommand_from runs" -l context -d 'Context (platform connection) to use instead of the current one' -r
complete -c plat -n "__fish_plat_using_subcommand automation; and __fish_seen_subcommand_from runs" -l account -d 'Account to act in (default: your own)' -r
complete -c plat -n "__fish_plat_using_subcommand automation; and __fish_seen_subcommand_from runs" -l user -d 'Platform user to act as on an embedded platform (default: the local operator)' -r
complete -c plat -n "__fish_plat_using_subcommand automation; and __fish_seen_subcommand_from runs" -s q -l quiet -d 'Print only data and errors'
complete -c plat -n "__fish_plat_using_subcommand automation; and __fish_seen_subcommand_from runs" -s v -l verbose -d 'Say more about what is happening (repeat for more)'
complete -c plat -n "__fish_plat_using_subcommand automation; and __fish_seen_subcommand_from runs" -l no-input -d 'Never prompt; fail listing every missing value instead'
complete -c plat -n "__fish_plat_using_subcommand automation; and __fish_seen_subcommand_from runs" -s y -l yes -d 'Answer yes to confirmations'
complete -c plat -n "__fish_plat_using_subcommand automation; and __fish_seen_subcommand_from runs" -s h -l help -d 'Print help'
complete -c plat -n "__fish_plat_using_subcommand automation; and __fish_seen_subcommand_from runs" -s V -l version -d 'Print version'
complete -c plat -n "__fish_plat_using_subcommand automation; and __fish_seen_subcommand_from logs" -s o -l output -d 'Output format: a table for people, JSON or YAML documents for programs' -r -f -a "table\t''
json\t''
yaml\t''"
complete -c plat -n "__fish_plat_using_subcommand automation; and __fish_seen_subcommand_from logs" -l context -d 'Context (platform connection) to use instead of the current one' -r
complete -c plat -n "__fish_plat_using_subcommand automation; and __fish_seen_subcommand_from logs" -l account -d 'Account to act in (default: your own)' -r
complete -c plat -n "__fish_plat_using_subcommand automation; and __fish_seen_subcommand_from logs" -l user -d 'Platform user to act as on an embedded platform (default: the local operator)' -r
complete -c plat -n "__fish_plat_using_subcommand automation; and __fish_seen_subcommand_from logs" -s f -l follow -d 'Keep printing as the log grows, until the run ends'
complete -c plat -n "__fish_plat_using_subcommand automation; and __fish_seen_subcommand_from logs" -s q -l quiet -d 'Print only data and errors'
complete -c plat -n "__fish_plat_using_subcommand automation; and __fish_seen_subcommand_from logs" -s v -l verbose -d 'Say more about what is happening (repeat for more)'
complete -c plat -n "__fish_plat_using_subcommand automation; and __fish_seen_subcommand_from logs" -l no-input -d 'Never prompt; fail listing every missing value instead'
complete -c plat -n "__fish_plat_using_subcommand automation; and __fish_seen_subcommand_from logs" -s y -l yes -d 'Answer yes to confirmations'
complete -c plat -n "__fish_plat_using_subcommand automation; and __fish_seen_subcommand_from logs" -s h -l help -d 'Print help'
complete -c plat -n "__fish_plat_using_subcommand automation; and __fish_seen_subcommand_from logs" -s V -l version -d 'Print version'
complete -c plat -n "__fish_plat_using_subcommand automation; and __fish_seen_subcommand_from cancel" -s o -l output -d 'Output format: a table for people, JSON or YAML documents for programs' -r -f -a "table\t''
json\t''
yaml\t''"
complete -c plat -n "__fish_plat_using_subcommand automation; and __fish_seen_subcommand_from cancel" -l context -d 'Context (platform connection) to use instead of the current one' -r
complete -c plat -n "__fish_plat_using_subcommand automation; and __fish_seen_subcommand_from cancel" -l account -d 'Account to act in (default: your own)' -r
complete -c plat -n "__fish_plat_using_subcommand automation; and __fish_seen_subcommand_from cancel" -l user -d 'Platform user to act as on an embedded platform (default: the local operator)' -r
complete -c plat -n "__fish_plat_using_subcommand automation; and __fish_seen_subcommand_from cancel" -s q -l quiet -d 'Print only data and errors'
complete -c plat -n "__fish_plat_using_subcommand automation; and __fish_seen_subcommand_from cancel" -s v -l verbose -d 'Say more about what is happening (repeat for more)'
complete -c plat -n "__fish_plat_using_subcommand automation; and __fish_seen_subcommand_from cancel" -l no-input -d 'Never prompt; fail listing every missing value instead'
complete -c plat -n "__fish_plat_using_subcommand automation; and __fish_seen_subcommand_from cancel" -s y -l yes -d 'Answer yes to confirmations'
complete -c plat -n "__fish_plat_using_subcommand automation; and __fish_seen_subcommand_from cancel" -s h -l help -d 'Print help'
complete -c plat -n "__fish_plat_using_subcommand automation; and __fish_seen_subcommand_from cancel" -s V -l version -d 'Print version'
complete -c plat -n "__fish_plat_using_subcommand automation; and __fish_seen_subcommand_from help" -f -a "apply" -d 'Create or update an automation from a YAML definition (apiVersion: plat.dev/v1, kind: Automation)'
complete -c plat -n "__fish_plat_using_subcommand automation; and __fish_seen_subcommand_from help" -f -a "list" -d 'List this account\'s automations'
complete -c plat -n "__fish_plat_using_subcommand automation; and __fish_seen_subcommand_from help" -f -a "show" -d 'Show an automation: trigger, parameters, steps'
complete -c plat -n "__fish_plat_using_subcommand automation; and __fish_seen_subcommand_from help" -f -a "delete" -d 'Delete an automation (its runs stay on record)'
complete -c plat -n "__fish_plat_using_subcommand automation; and __fish_seen_subcommand_from help" -f -a "run" -d 'Run an automation now and follow it; exits 0 when it succeeds, 1 when it fails'
complete -c plat -n "__fish_plat_using_subcommand automation; and __fish_seen_subcommand_from help" -f -a "runs" -d 'List runs, newest first'
complete -c plat -n "__fish_plat_using_subcommand automation; and __fish_seen_subcommand_from help" -f -a "logs" -d 'Print the log of a run'
complete -c plat -n "__fish_plat_using_subcommand automation; and __fish_seen_subcommand_from help" -f -a "cancel" -d 'Stop a run: its running step is killed'
complete -c plat -n "__fish_plat_using_subcommand automation; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c plat -n "__fish_plat_using_subcommand scan; and not __fish_seen_subcommand_from rules list show help" -l tf-state -d 'Terraform state: `terraform show -json` output or a raw .tfstate (\'-\' reads stdin)' -r -F
complete -c plat -n "__fish_plat_using_subcommand scan; and not __fish_seen_subcommand_from rules list show help" -l env -d 'Scan the Terraform state of this environment (see `plat env list`)' -r
complete -c plat -n "__fish_plat_using_subcommand scan; and not __fish_seen_subcommand_from rules list show help" -l kube-context -d 'Kubeconfig context to scan instead of the current one' -r
complete -c plat -n "__fish_plat_using_subcommand scan; and not __fish_seen_subcommand_from rules list show help" -l namespace -d 'Scan only this namespace of the cluster (cluster-scoped kinds are then skipped)' -r
complete -c plat -n "__fish_plat_using_subcommand scan; and not __fish_seen_subcommand_from rules list show help" -l format -d 'Report format (default: the global -o)' -r -f -a "table\t'Findings grouped by file on stdout, summary on stderr'
json\t'Inventory and findings in one document (schema_version 1)'
yaml\t'The JSON document as YAML'
sarif\t'SARIF 2.1.0 for code scanning (GitHub, GitLab, IDEs)'
backstage\t'Backstage catalog entities: a System per environment, a Resource per resource'
github\t'GitHub Actions annotations (`::error file=…,line=…::`)'"
complete -c plat -n "__fish_plat_using_subcommand scan; and not __fish_seen_subcommand_from rules list show help" -l fail-on -d 'Lowest severity that makes the command exit 3' -r -f -a "error\t'Exit 3 when any finding is an error'
warning\t'Exit 3 when any finding is a warning or an error'
never\t'Never exit 3; report only'"
complete -c plat -n "__fish_plat_using_subcommand scan; and not __fish_seen_subcommand_from rules list show help" -l policy -d 'Directory of Rego policies in conftest\'s layout (`package main`, deny/warn rules); repeatable (default: .plat/policies/ in the current directory, if present)' -r -F
complete -c plat -n "__fish_plat_using_subcommand scan; and not __fish_seen_subcommand_from rules list show help" -l config -d 'Scan configuration (default: .plat/scan.yaml in the current directory, if present)' -r -F
complete -c plat -n "__fish_plat_using_subcommand scan; and not __fish_seen_subcommand_from rules list show help" -l publish-name -d 'Name to publish under (default: env-NAME, cluster-CONTEXT or the directory\'s name)' -r
complete -c plat -n "__fish_plat_using_subcommand scan; and not __fish_seen_subcommand_from rules list show help" -s o -l output -d 'Output format: a table for people, JSON or YAML documents for programs' -r -f -a "table\t''
json\t''
yaml\t''"
complete -c plat -n "__fish_plat_using_subcommand scan; and not __fish_seen_subcommand_from rules list show help" -l context -d 'Context (platform connection) to use instead of the current one' -r
complete -c plat -n "__fish_plat_using_subcommand scan; and not __fish_seen_subcommand_from rules list show help" -l account -d 'Account to act in (default: your own)' -r
complete -c plat -n "__fish_plat_using_subcommand scan; and not __fish_seen_subcommand_from rules list show help" -l user -d 'Platform user to act as on an embedded platform (default: the local operator)' -r
complete -c plat -n "__fish_plat_using_subcommand scan; and not __fish_seen_subcommand_from rules list show help" -l kube -d 'Scan the live cluster of the kubeconfig\'s current context'
complete -c plat -n "__fish_plat_using_subcommand scan; and not __fish_seen_subcommand_from rules list show help" -l skip-unparsable -d 'Only warn about files that cannot be read or parsed, instead of reporting each as a PLAT016 error finding'
complete -c plat -n "__fish_plat_using_subcommand scan; and not __fish_seen_subcommand_from rules list show help" -l publish -d 'Attach the inventory to the account (and to the environment with --env) in the platform, where `plat scan list` and the Backstage catalog (/api/v1/catalog) find it; a re-scan of the same source replaces it'
complete -c plat -n "__fish_plat_using_subcommand scan; and not __fish_seen_subcommand_from rules list show help" -s q -l quiet -d 'Print only data and errors'
complete -c plat -n "__fish_plat_using_subcommand scan; and not __fish_seen_subcommand_from rules list show help" -s v -l verbose -d 'Say more about what is happening (repeat for more)'
complete -c plat -n "__fish_plat_using_subcommand scan; and not __fish_seen_subcommand_from rules list show help" -l no-input -d 'Never prompt; fail listing every missing value instead'
complete -c plat -n "__fish_plat_using_subcommand scan; and not __fish_seen_subcommand_from rules list show help" -s y -l yes -d 'Answer yes to confirmations'
complete -c plat -n "__fish_plat_using_subcommand scan; and not __fish_seen_subcommand_from rules list show help" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c plat -n "__fish_plat_using_subcommand scan; and not __fish_seen_subcommand_from rules list show help" -s V -l version -d 'Print version'
complete -c plat -n "__fish_plat_using_subcommand scan; and not __fish_seen_subcommand_from rules list show help" -a "rules" -d 'List the rule catalogue: id, name, default severity, target and how to fix, then the rules of the Rego policies (--policy DIR, else .plat/policies/)'
complete -c plat -n "__fish_plat_using_subcommand scan; and not __fish_seen_subcommand_from rules list show help" -a "list" -d 'List the inventories this account has published with --publish'
complete -c plat -n "__fish_plat_using_subcommand scan; and not __fish_seen_subcommand_from rules list show help" -a "show" -d 'Show a published inventory: summary and findings, or its Backstage entities'
complete -c plat -n "__fish_plat_using_subcommand scan; and not __fish_seen_subcommand_from rules list show help" -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c plat -n "__fish_plat_using_subcommand scan; and __fish_seen_subcommand_from rules" -l policy -d 'Directory of Rego policies to list too (repeatable; default: .plat/policies/)' -r -F
complete -c plat -n "__fish_plat_using_subcommand scan; and __fish_seen_subcommand_from rules" -s o -l output -d 'Output format: a table for people, JSON or YAML documents for programs' -r -f -a "table\t''
json\t''
yaml\t''"
complete -c plat -n "__fish_plat_using_subcommand scan; and __fish_seen_subcommand_from rules" -l context -d 'Context (platform connection) to use instead of the current one' -r
complete -c plat -n "__fish_plat_using_subcommand scan; and __fish_seen_subcommand_from rules" -l account -d 'Account to act in (default: your own)' -r
complete -c plat -n "__fish_plat_using_subcommand scan; and __fish_seen_subcommand_from rules" -l user -d 'Platform user to act as on an embedded platform (default: the local operator)' -r
complete -c plat -n "__fish_plat_using_subcommand scan; and __fish_seen_subcommand_from rules" -s q -l quiet -d 'Print only data and errors'
complete -c plat -n "__fish_plat_using_subcommand scan; and __fish_seen_subcommand_from rules" -s v -l verbose -d 'Say more about what is happening (repeat for more)'
complete -c plat -n "__fish_plat_using_subcommand scan; and __fish_seen_subcommand_from rules" -l no-input -d 'Never prompt; fail listing every missing value instead'
complete -c plat -n "__fish_plat_using_subcommand scan; and __fish_seen_subcommand_from rules" -s y -l yes -d 'Answer yes to confirmations'
complete -c plat -n "__fish_plat_using_subcommand scan; and __fish_seen_subcommand_from rules" -s h -l help -d 'Print help'
complete -c plat -n "__fish_plat_using_subcommand scan; and __fish_seen_subcommand_from rules" -s V -l version -d 'Print version'
complete -c plat -n "__fish_plat_using_subcommand scan; and __fish_seen_subcommand_from list" -s o -l output -d 'Output format: a table for people, JSON or YAML documents for programs' -r -f -a "table\t''
json\t''
yaml\t''"
complete -c plat -n "__fish_plat_using_subcommand scan; and __fish_seen_subcommand_from list" -l context -d 'Context (platform connection) to use instead of the current one' -r
complete -c plat -n "__fish_plat_using_subcommand scan; and __fish_seen_subcommand_from list" -l account -d 'Account to act in (default: your own)' -r
complete -c plat -n "__fish_plat_using_subcommand scan; and __fish_seen_subcommand_from list" -l user -d 'Platform user to act as on an embedded platform (default: the local operator)' -r
complete -c plat -n "__fish_plat_using_subcommand scan; and __fish_seen_subcommand_from list" -s q -l quiet -d 'Print only data and errors'
complete -c plat -n "__fish_plat_using_subcommand scan; and __fish_seen_subcommand_from list" -s v -l verbose -d 'Say more about what is happening (repeat for more)'
complete -c plat -n "__fish_plat_using_subcommand scan; and __fish_seen_subcommand_from list" -l no-input -d 'Never prompt; fail listing every missing value instead'
complete -c plat -n "__fish_plat_using_subcommand scan; and __fish_seen_subcommand_from list" -s y -l yes -d 'Answer yes to confirmations'
complete -c plat -n "__fish_plat_using_subcommand scan; and __fish_seen_subcommand_from list" -s h -l help -d 'Print help'
complete -c plat -n "__fish_plat_using_subcommand scan; and __fish_seen_subcommand_from list" -s V -l version -d 'Print version'
complete -c plat -n "__fish_plat_using_subcommand scan; and __fish_seen_subcommand_from show" -s o -l output -d 'Output format: a table for people, JSON or YAML documents for programs' -r -f -a "table\t''
json\t''
yaml\t''"
complete -c plat -n "__fish_plat_using_subcommand scan; and __fish_seen_subcommand_from show" -l context -d 'Context (platform connection) to use instead of the current one' -r
complete -c plat -n "__fish_plat_using_subcommand scan; and __fish_seen_subcommand_from show" -l account -d 'Account to act in (default: your own)' -r
complete -c plat -n "__fish_plat_using_subcommand scan; and __fish_seen_subcommand_from show" -l user -d 'Platform user to act as on an embedded platform (default: the local operator)' -r
complete -c plat -n "__fish_plat_using_subcommand scan; and __fish_seen_subcommand_from show" -l entities -d 'Print the Backstage catalog entities (multi-document YAML) instead'
complete -c plat -n "__fish_plat_using_subcommand scan; and __fish_seen_subcommand_from show" -s q -l quiet -d 'Print only data and errors'
complete -c plat -n "__fish_plat_using_subcommand scan; and __fish_seen_subcommand_from show" -s v -l verbose -d 'Say more about what is happening (repeat for more)'
complete -c plat -n "__fish_plat_using_subcommand scan; and __fish_seen_subcommand_from show" -l no-input -d 'Never prompt; fail listing every missing value instead'
complete -c plat -n "__fish_plat_using_subcommand scan; and __fish_seen_subcommand_from show" -s y -l yes -d 'Answer yes to confirmations'
complete -c plat -n "__fish_plat_using_subcommand scan; and __fish_seen_subcommand_from show" -s h -l help -d 'Print help'
complete -c plat -n "__fish_plat_using_subcommand scan; and __fish_seen_subcommand_from show" -s V -l version -d 'Print version'
complete -c plat -n "__fish_plat_using_subcommand scan; and __fish_seen_subcommand_from help" -f -a "rules" -d 'List the rule catalogue: id, name, default severity, target and how to fix, then the rules of the Rego policies (--policy DIR, else .plat/policies/)'
complete -c plat -n "__fish_plat_using_subcommand scan; and __fish_seen_subcommand_from help" -f -a "list" -d 'List the inventories this account has published with --publish'
complete -c plat -n "__fish_plat_using_subcommand scan; and __fish_seen_subcommand_from help" -f -a "show" -d 'Show a published inventory: summary and findings, or its Backstage entities'
complete -c plat -n "__fish_plat_using_subcommand scan; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c plat -n "__fish_plat_using_subcommand scaffold; and not __fish_seen_subcommand_from list ls show run update help" -s o -l output -d 'Output format: a table for people, JSON or YAML documents for programs' -r -f -a "table\t''
json\t''
yaml\t''"
complete -c plat -n "__fish_plat_using_subcommand scaffold; and not __fish_seen_subcommand_from list ls show run update help" -l context -d 'Context (platform connection) to use instead of the current one' -r
complete -c plat -n "__fish_plat_using_subcommand scaffold; and not __fish_seen_subcommand_from list ls show run update help" -l account -d 'Account to act in (default: your own)' -r
complete -c plat -n "__fish_plat_using_subcommand scaffold; and not __fish_seen_subcommand_from list ls show run update help" -l user -d 'Platform user to act as on an embedded platform (default: the local operator)' -r
complete -c plat -n "__fish_plat_using_subcommand scaffold; and not __fish_seen_subcommand_from list ls show run update help" -s q -l quiet -d 'Print only data and errors'
complete -c plat -n "__fish_plat_using_subcommand scaffold; and not __fish_seen_subcommand_from list ls show run update help" -s v -l verbose -d 'Say more about what is happening (repeat for more)'
complete -c plat -n "__fish_plat_using_subcommand scaffold; and not __fish_seen_subcommand_from list ls show run update help" -l no-input -d 'Never prompt; fail listing every missing value instead'
complete -c plat -n "__fish_plat_using_subcommand scaffold; and not __fish_seen_subcommand_from list ls show run update help" -s y -l yes -d 'Answer yes to confirmations'
complete -c plat -n "__fish_plat_using_subcommand scaffold; and not __fish_seen_subcommand_from list ls show run update help" -s h -l help -d 'Print help'
complete -c plat -n "__fish_plat_using_subcommand scaffold; and not __fish_seen_subcommand_from list ls show run update help" -s V -l version -d 'Print version'
complete -c plat -n "__fish_plat_using_subcommand scaffold; and not __fish_seen_subcommand_from list ls show run update help" -f -a "list" -d 'List the templates: built-in ones and those in PLAT_TEMPLATE_PATH'
complete -c plat -n "__fish_plat_using_subcommand scaffold; and not __fish_seen_subcommand_from list ls show run update help" -f -a "ls" -d 'List the templates: built-in ones and those in PLAT_TEMPLATE_PATH'
complete -c plat -n "__fish_plat_using_subcommand scaffold; and not __fish_seen_subcommand_from list ls show run update help" -f -a "show" -d 'Show a template\'s parameters: title, type, required, default and choices'
complete -c plat -n "__fish_plat_using_subcommand scaffold; and not __fish_seen_subcommand_from list ls show run update help" -f -a "run" -d 'Create a project from a template, offline; publish it with git when the template says so'
complete -c plat -n "__fish_plat_using_subcommand scaffold; and not __fish_seen_subcommand_from list ls show run update help" -f -a "update" -d 'Bring a generated project up to date with its template (three-way merge; exit 3 on conflicts)'
complete -c plat -n "__fish_plat_using_subcommand scaffold; and not __fish_seen_subcommand_from list ls show run update help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c plat -n "__fish_plat_using_subcommand scaffold; and __fish_seen_subcommand_from list" -s o -l output -d 'Output format: a table for people, JSON or YAML documents for programs' -r -f -a "table\t''
json\t''
yaml\t''"
complete -c plat -n "__fish_plat_using_subcommand scaffold; and __fish_seen_subcommand_from list" -l context -d 'Context (platform connection) to use instead of the current one' -r
complete -c plat -n "__fish_plat_using_subcommand scaffold; and __fish_seen_subcommand_from list" -l account -d 'Account to act in (default: your own)' -r
complete -c plat -n "__fish_plat_using_subcommand scaffold; and __fish_seen_subcommand_from list" -l user -d 'Platform user to act as on an embedded platform (default: the local operator)' -r
complete -c plat -n "__fish_plat_using_subcommand scaffold; and __fish_seen_subcommand_from list" -s q -l quiet -d 'Print only data and errors'
complete -c plat -n "__fish_plat_using_subcommand scaffold; and __fish_seen_subcommand_from list" -s v -l verbose -d 'Say more about what is happening (repeat for more)'
complete -c plat -n "__fish_plat_using_subcommand scaffold; and __fish_seen_subcommand_from list" -l no-input -d 'Never prompt; fail listing every missing value instead'
complete -c plat -n "__fish_plat_using_subcommand scaffold; and __fish_seen_subcommand_from list" -s y -l yes -d 'Answer yes to confirmations'
complete -c plat -n "__fish_plat_using_subcommand scaffold; and __fish_seen_subcommand_from list" -s h -l help -d 'Print help'
complete -c plat -n "__fish_plat_using_subcommand scaffold; and __fish_seen_subcommand_from list" -s V -l version -d 'Print version'
complete -c plat -n "__fish_plat_using_subcommand scaffold; and __fish_seen_subcommand_from ls" -s o -l output -d 'Output format: a table for people, JSON or YAML documents for programs' -r -f -a "table\t''
json\t''
yaml\t''"
complete -c plat -n "__fish_plat_using_subcommand scaffold; and __fish_seen_subcommand_from ls" -l context -d 'Context (platform connection) to use instead of the current one' -r
complete -c plat -n "__fish_plat_using_subcommand scaffold; and __fish_seen_subcommand_from ls" -l account -d 'Account to act in (default: your own)' -r
complete -c plat -n "__fish_plat_using_subcommand scaffold; and __fish_seen_subcommand_from ls" -l user -d 'Platform user to act as on an embedded platform (default: the local operator)' -r
complete -c plat -n "__fish_plat_using_subcommand scaffold; and __fish_seen_subcommand_from ls" -s q -l quiet -d 'Print only data and errors'
complete -c plat -n "__fish_plat_using_subcommand scaffold; and __fish_seen_subcommand_from ls" -s v -l verbose -d 'Say more about what is happening (repeat for more)'
complete -c plat -n "__fish_plat_using_subcommand scaffold; and __fish_seen_subcommand_from ls" -l no-input -d 'Never prompt; fail listing every missing value instead'
complete -c plat -n "__fish_plat_using_subcommand scaffold; and __fish_seen_subcommand_from ls" -s y -l yes -d 'Answer yes to confirmations'
complete -c plat -n "__fish_plat_using_subcommand scaffold; and __fish_seen_subcommand_from ls" -s h -l help -d 'Print help'
complete -c plat -n "__fish_plat_using_subcommand scaffold; and __fish_seen_subcommand_from ls" -s V -l version -d 'Print version'
complete -c plat -n "__fish_plat_using_subcommand scaffold; and __fish_seen_subcommand_from show" -s o -l output -d 'Output format: a table for people, JSON or YAML documents for programs' -r -f -a "table\t''
json\t''
yaml\t''"
complete -c plat -n "__fish_plat_using_subcommand scaffold; and __fish_seen_subcommand_from show" -l context -d 'Context (platform connection) to use instead of the current one' -r
complete -c plat -n "__fish_plat_using_subcommand scaffold; and __fish_seen_subcommand_from show" -l account -d 'Account to act in (default: your own)' -r
complete -c plat -n "__fish_plat_using_subcommand scaffold; and __fish_seen_subcommand_from show" -l user -d 'Platform user to act as on an embedded platform (default: the local operator)' -r
complete -c plat -n "__fish_plat_using_subcommand scaffold; and __fish_seen_subcommand_from show" -s q -l quiet -d 'Print only data and errors'
complete -c plat -n "__fish_plat_using_subcommand scaffold; and __fish_seen_subcommand_from show" -s v -l verbose -d 'Say more about what is happening (repeat for more)'
complete -c plat -n "__fish_plat_using_subcommand scaffold; and __fish_seen_subcommand_from show" -l no-input -d 'Never prompt; fail listing every missing value instead'
complete -c plat -n "__fish_plat_using_subcommand scaffold; and __fish_seen_subcommand_from show" -s y -l yes -d 'Answer yes to confirmations'
complete -c plat -n "__fish_plat_using_subcommand scaffold; and __fish_seen_subcommand_from show" -s h -l help -d 'Print help'
complete -c plat -n "__fish_plat_using_subcommand scaffold; and __fish_seen_subcommand_from show" -s V -l version -d 'Print version'
complete -c plat -n "__fish_plat_using_subcommand scaffold; and __fish_seen_subcommand_from run" -s s -l set -d 'Template parameter (repeatable; wins over --values)' -r
complete -c plat -n "__fish_plat_using_subcommand scaffold; and __fish_seen_subcommand_from run" -s f -l values -d 'YAML file of template parameters (repeatable; later files win)' -r -F
complete -c plat -n "__fish_plat_using_subcommand scaffold; and __fish_seen_subcommand_from run" -s o -l output -d 'Output format: a table for people, JSON or YAML documents for programs' -r -f -a "table\t''
json\t''
yaml\t''"
complete -c plat -n "__fish_plat_using_subcommand scaffold; and __fish_seen_subcommand_from run" -l context -d 'Context (platform connection) to use instead of the current one' -r
complete -c plat -n "__fish_plat_using_subcommand scaffold; and __fish_seen_subcommand_from run" -l account -d 'Account to act in (default: your own)' -r
complete -c plat -n "__fish_plat_using_subcommand scaffold; and __fish_seen_subcommand_from run" -l user -d 'Platform user to act as on an embedded platform (default: the local operator)' -r
complete -c plat -n "__fish_plat_using_subcommand scaffold; and __fish_seen_subcommand_from run" -l dry-run -d 'List the files that would be written; write nothing and call no remote'
complete -c plat -n "__fish_plat_using_subcommand scaffold; and __fish_seen_subcommand_from run" -l no-git -d 'Skip the template\'s publish:* steps (no repository is created or pushed)'
complete -c plat -n "__fish_plat_using_subcommand scaffold; and __fish_seen_subcommand_from run" -l trust -d 'Run the template\'s hooks (shell commands); review the template first'
complete -c plat -n "__fish_plat_using_subcommand scaffold; and __fish_seen_subcommand_from run" -l force -d 'Write into a target directory that is not empty'
complete -c plat -n "__fish_plat_using_subcommand scaffold; and __fish_seen_subcommand_from run" -s q -l quiet -d 'Print only data and errors'
complete -c plat -n "__fish_plat_using_subcommand scaffold; and __fish_seen_subcommand_from run" -s v -l verbose -d 'Say more about what is happening (repeat for more)'
complete -c plat -n "__fish_plat_using_subcommand scaffold; and __fish_seen_subcommand_from run" -l no-input -d 'Never prompt; fail listing every missing value instead'
complete -c plat -n "__fish_plat_using_subcommand scaffold; and __fish_seen_subcommand_from run" -s y -l yes -d 'Answer yes to confirmations'
complete -c plat -n "__fish_plat_using_subcommand scaffold; and __fish_seen_subcommand_from run" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c plat -n "__fish_plat_using_subcommand scaffold; and __fish_seen_subcommand_from run" -s V -l version -d 'Print version'
complete -c plat -n "__fish_plat_using_subcommand scaffold; and __fish_seen_subcommand_from update" -s s -l set -d 'Change an answer (repeatable); the others come from .plat-answers.yml' -r
complete -c plat -n "__fish_plat_using_subcommand scaffold; and __fish_seen_subcommand_from update" -l conflict -d 'How to leave conflicting changes' -r -f -a "inline\t'Conflict markers (<<<<<<< ======= >>>>>>>) inside the file'
rej\t'Keep your file; write the template\'s change beside it as FILE.rej'"
complete -c plat -n "__fish_plat_using_subcommand scaffold; and __fish_seen_subcommand_from update" -s o -l output -d 'Output format: a table for people, JSON or YAML documents for programs' -r -f -a "table\t''
json\t''
yaml\t''"
complete -c plat -n "__fish_plat_using_subcommand scaffold; and __fish_seen_subcommand_from update" -l context -d 'Context (platform connection) to use instead of the current one' -r
complete -c plat -n "__fish_plat_using_subcommand scaffold; and __fish_seen_subcommand_from update" -l account -d 'Account to act in (default: your own)' -r
complete -c plat -n "__fish_plat_using_subcommand scaffold; and __fish_seen_subcommand_from update" -l user -d 'Platform user to act as on an embedded platform (default: the local operator)' -r
complete -c plat -n "__fish_plat_using_subcommand scaffold; and __fish_seen_subcommand_from update" -l dry-run -d 'Show what would change; write nothing'
complete -c plat -n "__fish_plat_using_subcommand scaffold; and __fish_seen_subcommand_from update" -l trust -d 'Run the template\'s hooks while re-rendering'
complete -c plat -n "__fish_plat_using_subcommand scaffold; and __fish_seen_subcommand_from update" -s q -l quiet -d 'Print only data and errors'
complete -c plat -n "__fish_plat_using_subcommand scaffold; and __fish_seen_subcommand_from update" -s v -l verbose -d 'Say more about what is happening (repeat for more)'
complete -c plat -n "__fish_plat_using_subcommand scaffold; and __fish_seen_subcommand_from update" -l no-input -d 'Never prompt; fail listing every missing value instead'
complete -c plat -n "__fish_plat_using_subcommand scaffold; and __fish_seen_subcommand_from update" -s y -l yes -d 'Answer yes to confirmations'
complete -c plat -n "__fish_plat_using_subcommand scaffold; and __fish_seen_subcommand_from update" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c plat -n "__fish_plat_using_subcommand scaffold; and __fish_seen_subcommand_from update" -s V -l version -d 'Print version'
complete -c plat -n "__fish_plat_using_subcommand scaffold; and __fish_seen_subcommand_from help" -f -a "list" -d 'List the templates: built-in ones and those in PLAT_TEMPLATE_PATH'
complete -c plat -n "__fish_plat_using_subcommand scaffold; and __fish_seen_subcommand_from help" -f -a "show" -d 'Show a template\'s parameters: title, type, required, default and choices'
complete -c plat -n "__fish_plat_using_subcommand scaffold; and __fish_seen_subcommand_from help" -f -a "run" -d 'Create a project from a template, offline; publish it with git when the template says so'
complete -c plat -n "__fish_plat_using_subcommand scaffold; and __fish_seen_subcommand_from help" -f -a "update" -d 'Bring a generated project up to date with its template (three-way merge; exit 3 on conflicts)'
complete -c plat -n "__fish_plat_using_subcommand scaffold; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c plat -n "__fish_plat_using_subcommand login" -l server -d 'URL of the plat server (default: the current context\'s server)' -r
complete -c plat -n "__fish_plat_using_subcommand login" -l audience -d 'The audience of the job\'s ID token, the trust rule\'s --audience (default: plat; only for a GitHub Actions login)' -r
complete -c plat -n "__fish_plat_using_subcommand login" -s o -l output -d 'Output format: a table for people, JSON or YAML documents for programs' -r -f -a "table\t''
json\t''
yaml\t''"
complete -c plat -n "__fish_plat_using_subcommand login" -l context -d 'Context (platform connection) to use instead of the current one' -r
complete -c plat -n "__fish_plat_using_subcommand login" -l account -d 'Account to act in (default: your own)' -r
complete -c plat -n "__fish_plat_using_subcommand login" -l user -d 'Platform user to act as on an embedded platform (default: the local operator)' -r
complete -c plat -n "__fish_plat_using_subcommand login" -l insecure-storage -d 'Keep the refresh token in a file readable only by you instead of the OS keyring'
complete -c plat -n "__fish_plat_using_subcommand login" -l with-token -d 'Read an access token from standard input instead of running the device flow'
complete -c plat -n "__fish_plat_using_subcommand login" -l github-actions -d 'Log in as this GitHub Actions job with its OIDC ID token (the job needs `permissions: id-token: write`, the server a `plat trust` rule). No token is stored: every later plat command of the job asks the runner for a fresh one. The default in a job that may request ID tokens, unless --with-token is given'
complete -c plat -n "__fish_plat_using_subcommand login" -s q -l quiet -d 'Print only data and errors'
complete -c plat -n "__fish_plat_using_subcommand login" -s v -l verbose -d 'Say more about what is happening (repeat for more)'
complete -c plat -n "__fish_plat_using_subcommand login" -l no-input -d 'Never prompt; fail listing every missing value instead'
complete -c plat -n "__fish_plat_using_subcommand login" -s y -l yes -d 'Answer yes to confirmations'
complete -c plat -n "__fish_plat_using_subcommand login" -s h -l help -d 'Print help'
complete -c plat -n "__fish_plat_using_subcommand login" -s V -l version -d 'Print version'
complete -c plat -n "__fish_plat_using_subcommand logout" -s o -l output -d 'Output format: a table for people, JSON or YAML documents for programs' -r -f -a "table\t''
json\t''
yaml\t''"
complete -c plat -n "__fish_plat_using_subcommand logout" -l context -d 'Context (platform connection) to use instead of the current one' -r
complete -c plat -n "__fish_plat_using_subcommand logout" -l account -d 'Account to act in (default: your own)' -r
complete -c plat -n "__fish_plat_using_subcommand logout" -l user -d 'Platform user to act as on an embedded platform (default: the local operator)' -r
complete -c plat -n "__fish_plat_using_subcommand logout" -l no-revoke -d 'Only forget the stored tokens; do not ask the identity provider to revoke them'
complete -c plat -n "__fish_plat_using_subcommand logout" -s q -l quiet -d 'Print only data and errors'
complete -c plat -n "__fish_plat_using_subcommand logout" -s v -l verbose -d 'Say more about what is happening (repeat for more)'
complete -c plat -n "__fish_plat_using_subcommand logout" -l no-input -d 'Never prompt; fail listing every missing value instead'
complete -c plat -n "__fish_plat_using_subcommand logout" -s y -l yes -d 'Answer yes to confirmations'
complete -c plat -n "__fish_plat_using_subcommand logout" -s h -l help -d 'Print help'
complete -c plat -n "__fish_plat_using_subcommand logout" -s V -l version -d 'Print version'
complete -c plat -n "__fish_plat_using_subcommand auth; and not __fish_seen_subcommand_from status token help" -s o -l output -d 'Output format: a table for people, JSON or YAML documents for programs' -r -f -a "table\t''
json\t''
yaml\t''"
complete -c plat -n "__fish_plat_using_subcommand auth; and not __fish_seen_subcommand_from status token help" -l context -d 'Context (platform connection) to use instead of the current one' -r
complete -c plat -n "__fish_plat_using_subcommand auth; and not __fish_seen_subcommand_from status token help" -l account -d 'Account to act in (default: your own)' -r
complete -c plat -n "__fish_plat_using_subcommand auth; and not __fish_seen_subcommand_from status token help" -l user -d 'Platform user to act as on an embedded platform (default: the local operator)' -r
complete -c plat -n "__fish_plat_using_subcommand auth; and not __fish_seen_subcommand_from status token help" -s q -l quiet -d 'Print only data and errors'
complete -c plat -n "__fish_plat_using_subcommand auth; and not __fish_seen_subcommand_from status token help" -s v -l verbose -d 'Say more about what is happening (repeat for more)'
complete -c plat -n "__fish_plat_using_subcommand auth; and not __fish_seen_subcommand_from status token help" -l no-input -d 'Never prompt; fail listing every missing value instead'
complete -c plat -n "__fish_plat_using_subcommand auth; and not __fish_seen_subcommand_from status token help" -s y -l yes -d 'Answer yes to confirmations'
complete -c plat -n "__fish_plat_using_subcommand auth; and not __fish_seen_subcommand_from status token help" -s h -l help -d 'Print help'
complete -c plat -n "__fish_plat_using_subcommand auth; and not __fish_seen_subcommand_from status token help" -s V -l version -d 'Print version'
complete -c plat -n "__fish_plat_using_subcommand auth; and not __fish_seen_subcommand_from status token help" -f -a "status" -d 'Show whether you are logged in to the current context, as whom, until when'
complete -c plat -n "__fish_plat_using_subcommand auth; and not __fish_seen_subcommand_from status token help" -f -a "token" -d 'Print a valid access token (refreshed if needed) for use in scripts'
complete -c plat -n "__fish_plat_using_subcommand auth; and not __fish_seen_subcommand_from status token help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c plat -n "__fish_plat_using_subcommand auth; and __fish_seen_subcommand_from status" -s o -l output -d 'Output format: a table for people, JSON or YAML documents for programs' -r -f -a "table\t''
json\t''
yaml\t''"
complete -c plat -n "__fish_plat_using_subcommand auth; and __fish_seen_subcommand_from status" -l context -d 'Context (platform connection) to use instead of the current one' -r
complete -c plat -n "__fish_plat_using_subcommand auth; and __fish_seen_subcommand_from status" -l account -d 'Account to act in (default: your own)' -r
complete -c plat -n "__fish_plat_using_subcommand auth; and __fish_seen_subcommand_from status" -l user -d 'Platform user to act as on an embedded platform (default: the local operator)' -r
complete -c plat -n "__fish_plat_using_subcommand auth; and __fish_seen_subcommand_from status" -s q -l quiet -d 'Print only data and errors'
complete -c plat -n "__fish_plat_using_subcommand auth; and __fish_seen_subcommand_from status" -s v -l verbose -d 'Say more about what is happening (repeat for more)'
complete -c plat -n "__fish_plat_using_subcommand auth; and __fish_seen_subcommand_from status" -l no-input -d 'Never prompt; fail listing every missing value instead'
complete -c plat -n "__fish_plat_using_subcommand auth; and __fish_seen_subcommand_from status" -s y -l yes -d 'Answer yes to confirmations'
complete -c plat -n "__fish_plat_using_subcommand auth; and __fish_seen_subcommand_from status" -s h -l help -d 'Print help'
complete -c plat -n "__fish_plat_using_subcommand auth; and __fish_seen_subcommand_from status" -s V -l version -d 'Print version'
complete -c plat -n "__fish_plat_using_subcommand auth; and __fish_seen_subcommand_from token" -s o -l output -d 'Output format: a table for people, JSON or YAML documents for programs' -r -f -a "table\t''
json\t''
yaml\t''"
complete -c plat -n "__fish_plat_using_subcommand auth; and __fish_seen_subcommand_from token" -l context -d 'Context (platform connection) to use instead of the current one' -r
complete -c plat -n "__fish_plat_using_subcommand auth; and __fish_seen_subcommand_from token" -l account -d 'Account to act in (default: your own)' -r
complete -c plat -n "__fish_plat_using_subcommand auth; and __fish_seen_subcommand_from token" -l user -d 'Platform user to act as on an embedded platform (default: the local operator)' -r
complete -c plat -n "__fish_plat_using_subcommand auth; and __fish_seen_subcommand_from token" -s q -l quiet -d 'Print only data and errors'
complete -c plat -n "__fish_plat_using_subcommand auth; and __fish_seen_subcommand_from token" -s v -l verbose -d 'Say more about what is happening (repeat for more)'
complete -c plat -n "__fish_plat_using_subcommand auth; and __fish_seen_subcommand_from token" -l no-input -d 'Never prompt; fail listing every missing value instead'
complete -c plat -n "__fish_plat_using_subcommand auth; and __fish_seen_subcommand_from token" -s y -l yes -d 'Answer yes to confirmations'
complete -c plat -n "__fish_plat_using_subcommand auth; and __fish_seen_subcommand_from token" -s h -l help -d 'Print help'
complete -c plat -n "__fish_plat_using_subcommand auth; and __fish_seen_subcommand_from token" -s V -l version -d 'Print version'
complete -c plat -n "__fish_plat_using_subcommand auth; and __fish_seen_subcommand_from help" -f -a "status" -d 'Show whether you are logged in to the current context, as whom, until when'
complete -c plat -n "__fish_plat_using_subcommand auth; and __fish_seen_subcommand_from help" -f -a "token" -d 'Print a valid access token (refreshed if needed) for use in scripts'
complete -c plat -n "__fish_plat_using_subcommand auth; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c plat -n "__fish_plat_using_subcommand server; and not __fish_seen_subcommand_from migrate openapi help" -l listen -d 'Address to listen on' -r
complete -c plat -n "__fish_plat_using_subcommand server; and not __fish_seen_subcommand_from migrate openapi help" -l database-url -d 'Database: postgres://USER@HOST:PORT/DB or sqlite://PATH (default: SQLite in the data dir)' -r
complete -c plat -n "__fish_plat_using_subcommand server; and not __fish_seen_subcommand_from migrate openapi help" -l oidc-issuer -d 'OpenID Connect issuer whose tokens the server accepts' -r
complete -c plat -n "__fish_plat_using_subcommand server; and not __fish_seen_subcommand_from migrate openapi help" -l oidc-client-id -d 'OAuth client id the CLI uses for the device flow' -r
complete -c plat -n "__fish_plat_using_subcommand server; and not __fish_seen_subcommand_from migrate openapi help" -l oidc-audience -d 'Audience access tokens must carry (default: the client id)' -r
complete -c plat -n "__fish_plat_using_subcommand server; and not __fish_seen_subcommand_from migrate openapi help" -l oidc-username-claim -d 'Access-token claim that names the user, e.g. upn, preferred_username, sub: its value (an e-mail) links a new IdP subject to the platform user with that e-mail, so tokens need no `email` claim; a claim missing from a token is asked of the IdP\'s userinfo endpoint' -r
complete -c plat -n "__fish_plat_using_subcommand server; and not __fish_seen_subcommand_from migrate openapi help" -l oidc-groups-claim -d 'Access-token claim listing the user\'s IdP groups, e.g. groups, or a dotted path such as Keycloak\'s realm_access.roles. Account admins map them to platform groups (`plat group link-idp`); they are re-read from every token, never stored. Unset: groups are ignored' -r
complete -c plat -n "__fish_plat_using_subcommand server; and not __fish_seen_subcommand_from migrate openapi help" -l bootstrap-admin -d 'E-mail of the user who owns the master account' -r
complete -c plat -n "__fish_plat_using_subcommand server; and not __fish_seen_subcommand_from migrate openapi help" -l master-account -d 'Slug of the master account' -r
complete -c plat -n "__fish_plat_using_subcommand server; and not __fish_seen_subcommand_from migrate openapi help" -l default-domain -d 'Domain of the default tenant' -r
complete -c plat -n "__fish_plat_using_subcommand server; and not __fish_seen_subcommand_from migrate openapi help" -l amqp-url -d 'RabbitMQ URL (amqp://user:pass@host:5672/vhost): consume the queues of queue-triggered automations (one run per message), and hand queued runs to workers through the broker' -r
complete -c plat -n "__fish_plat_using_subcommand server; and not __fish_seen_subcommand_from migrate openapi help" -l amqp-runs-queue -d 'RabbitMQ queue queued runs are handed to workers through; give each platform sharing a broker its own' -r
complete -c plat -n "__fish_plat_using_subcommand server; and not __fish_seen_subcommand_from migrate openapi help" -l workers -d 'Automation workers per replica' -r
complete -c plat -n "__fish_plat_using_subcommand server; and not __fish_seen_subcommand_from migrate openapi help" -l run-lease-seconds -d 'Seconds a worker holds a run between renewals; a run whose worker died is reclaimed after this' -r
complete -c plat -n "__fish_plat_using_subcommand server; and not __fish_seen_subcommand_from migrate openapi help" -l run-max-attempts -d 'Attempts a run gets when its worker dies before it is marked failed' -r
complete -c plat -n "__fish_plat_using_subcommand server; and not __fish_seen_subcommand_from migrate openapi help" -l db-acquire-timeout-ms -d 'Milliseconds a request waits for a database connection before failing with 503' -r
complete -c plat -n "__fish_plat_using_subcommand server; and not __fish_seen_subcommand_from migrate openapi help" -l db-statement-timeout-ms -d 'Milliseconds one database statement may run (SQLite: may wait for the write lock)' -r
complete -c plat -n "__fish_plat_using_subcommand server; and not __fish_seen_subcommand_from migrate openapi help" -l audit-retention -d 'Keep audit records this long (e.g. 365d, at least 1d), pruning older ones hourly with a record of each pruning; without it records are kept for ever' -r
complete -c plat -n "__fish_plat_using_subcommand server; and not __fish_seen_subcommand_from migrate openapi help" -l currency -d 'Currency of template costs, budgets and spend (an ISO 4217 code)' -r
complete -c plat -n "__fish_plat_using_subcommand server; and not __fish_seen_subcommand_from migrate openapi help" -s o -l output -d 'Output format: a table for people, JSON or YAML documents for programs' -r -f -a "table\t''
json\t''
yaml\t''"
complete -c plat -n "__fish_plat_using_subcommand server; and not __fish_seen_subcommand_from migrate openapi help" -l context -d 'Context (platform connection) to use instead of the current one' -r
complete -c plat -n "__fish_plat_using_subcommand server; and not __fish_seen_subcommand_from migrate openapi help" -l account -d 'Account to act in (default: your own)' -r
complete -c plat -n "__fish_plat_using_subcommand server; and not __fish_seen_subcommand_from migrate openapi help" -l user -d 'Platform user to act as on an embedded platform (default: the local operator)' -r
complete -c plat -n "__fish_plat_using_subcommand server; and not __fish_seen_subcommand_from migrate openapi help" -s q -l quiet -d 'Print only data and errors'
complete -c plat -n "__fish_plat_using_subcommand server; and not __fish_seen_subcommand_from migrate openapi help" -s v -l verbose -d 'Say more about what is happening (repeat for more)'
complete -c plat -n "__fish_plat_using_subcommand server; and not __fish_seen_subcommand_from migrate openapi help" -l no-input -d 'Never prompt; fail listing every missing value instead'
complete -c plat -n "__fish_plat_using_subcommand server; and not __fish_seen_subcommand_from migrate openapi help" -s y -l yes -d 'Answer yes to confirmations'
complete -c plat -n "__fish_plat_using_subcommand server; and not __fish_seen_subcommand_from migrate openapi help" -s h -l help -d 'Print help'
complete -c plat -n "__fish_plat_using_subcommand server; and not __fish_seen_subcommand_from migrate openapi help" -s V -l version -d 'Print version'
complete -c plat -n "__fish_plat_using_subcommand server; and not __fish_seen_subcommand_from migrate openapi help" -f -a "migrate" -d 'Create or upgrade the database schema, then exit'
complete -c plat -n "__fish_plat_using_subcommand server; and not __fish_seen_subcommand_from migrate openapi help" -f -a "openapi" -d 'Print the OpenAPI document the server serves at /api/v1/openapi.json'
complete -c plat -n "__fish_plat_using_subcommand server; and not __fish_seen_subcommand_from migrate openapi help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c plat -n "__fish_plat_using_subcommand server; and __fish_seen_subcommand_from migrate" -l database-url -d 'Database: postgres://USER@HOST:PORT/DB or sqlite://PATH' -r
complete -c plat -n "__fish_plat_using_subcommand server; and __fish_seen_subcommand_from migrate" -s o -l output -d 'Output format: a table for people, JSON or YAML documents for programs' -r -f -a "table\t''
json\t''
yaml\t''"
complete -c plat -n "__fish_plat_using_subcommand server; and __fish_seen_subcommand_from migrate" -l context -d 'Context (platform connection) to use instead of the current one' -r
complete -c plat -n "__fish_plat_using_subcommand server; and __fish_seen_subcommand_from migrate" -l account -d 'Account to act in (default: your own)' -r
complete -c plat -n "__fish_plat_using_subcommand server; and __fish_seen_subcommand_from migrate" -l user -d 'Platform user to act as on an embedded platform (default: the local operator)' -r
complete -c plat -n "__fish_plat_using_subcommand server; and __fish_seen_subcommand_from migrate" -s q -l quiet -d 'Print only data and errors'
complete -c plat -n "__fish_plat_using_subcommand server; and __fish_seen_subcommand_from migrate" -s v -l verbose -d 'Say more about what is happening (repeat for more)'
complete -c plat -n "__fish_plat_using_subcommand server; and __fish_seen_subcommand_from migrate" -l no-input -d 'Never prompt; fail listing every missing value instead'
complete -c plat -n "__fish_plat_using_subcommand server; and __fish_seen_subcommand_from migrate" -s y -l yes -d 'Answer yes to confirmations'
complete -c plat -n "__fish_plat_using_subcommand server; and __fish_seen_subcommand_from migrate" -s h -l help -d 'Print help'
complete -c plat -n "__fish_plat_using_subcommand server; and __fish_seen_subcommand_from migrate" -s V -l version -d 'Print version'
complete -c plat -n "__fish_plat_using_subcommand server; and __fish_seen_subcommand_from openapi" -s o -l output -d 'Output format: a table for people, JSON or YAML documents for programs' -r -f -a "table\t''
json\t''
yaml\t''"
complete -c plat -n "__fish_plat_using_subcommand server; and __fish_seen_subcommand_from openapi" -l context -d 'Context (platform connection) to use instead of the current one' -r
complete -c plat -n "__fish_plat_using_subcommand server; and __fish_seen_subcommand_from openapi" -l account -d 'Account to act in (default: your own)' -r
complete -c plat -n "__fish_plat_using_subcommand server; and __fish_seen_subcommand_from openapi" -l user -d 'Platform user to act as on an embedded platform (default: the local operator)' -r
complete -c plat -n "__fish_plat_using_subcommand server; and __fish_seen_subcommand_from openapi" -s q -l quiet -d 'Print only data and errors'
complete -c plat -n "__fish_plat_using_subcommand server; and __fish_seen_subcommand_from openapi" -s v -l verbose -d 'Say more about what is happening (repeat for more)'
complete -c plat -n "__fish_plat_using_subcommand server; and __fish_seen_subcommand_from openapi" -l no-input -d 'Never prompt; fail listing every missing value instead'
complete -c plat -n "__fish_plat_using_subcommand server; and __fish_seen_subcommand_from openapi" -s y -l yes -d 'Answer yes to confirmations'
complete -c plat -n "__fish_plat_using_subcommand server; and __fish_seen_subcommand_from openapi" -s h -l help -d 'Print help'
complete -c plat -n "__fish_plat_using_subcommand server; and __fish_seen_subcommand_from openapi" -s V -l version -d 'Print version'
complete -c plat -n "__fish_plat_using_subcommand server; and __fish_seen_subcommand_from help" -f -a "migrate" -d 'Create or upgrade the database schema, then exit'
complete -c plat -n "__fish_plat_using_subcommand server; and __fish_seen_subcommand_from help" -f -a "openapi" -d 'Print the OpenAPI document the server serves at /api/v1/openapi.json'
complete -c plat -n "__fish_plat_using_subcommand server; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c plat -n "__fish_plat_using_subcommand completion" -s o -l output -d 'Output format: a table for people, JSON or YAML documents for programs' -r -f -a "table\t''
json\t''
yaml\t''"
complete -c plat -n "__fish_plat_using_subcommand completion" -l context -d 'Context (platform connection) to use instead of the current one' -r
complete -c plat -n "__fish_plat_using_subcommand completion" -l account -d 'Account to act in (default: your own)' -r
complete -c plat -n "__fish_plat_using_subcommand completion" -l user -d 'Platform user to act as on an embedded platform (default: the local operator)' -r
complete -c plat -n "__fish_plat_using_subcommand completion" -s q -l quiet -d 'Print only data and errors'
complete -c plat -n "__fish_plat_using_subcommand completion" -s v -l verbose -d 'Say more about what is happening (repeat for more)'
complete -c plat -n "__fish_plat_using_subcommand completion" -l no-input -d 'Never prompt; fail listing every missing value instead'
complete -c plat -n "__fish_plat_using_subcommand completion" -s y -l yes -d 'Answer yes to confirmations'
complete -c plat -n "__fish_plat_using_subcommand completion" -s h -l help -d 'Print help'
complete -c plat -n "__fish_plat_using_subcommand completion" -s V -l version -d 'Print version'
complete -c plat -n "__fish_plat_using_subcommand help; and not __fish_seen_subcommand_from account tenant user group trust context whoami env policy audit spend automation scan scaffold login logout auth server completion help" -f -a "account" -d 'Manage accounts: your own and the sub-accounts below it'
complete -c plat -n "__fish_plat_using_subcommand help; and not __fish_seen_subcommand_from account tenant user group trust context whoami env policy audit spend automation scan scaffold login logout auth server completion help" -f -a "tenant" -d 'Manage tenants: domains and branding under which accounts see the platform'
complete -c plat -n "__fish_plat_using_subcommand help; and not __fish_seen_subcommand_from account tenant user group trust context whoami env policy audit spend automation scan scaffold login logout auth server completion help" -f -a "user" -d 'Link platform users to the current account, or revoke their access'
complete -c plat -n "__fish_plat_using_subcommand help; and not __fish_seen_subcommand_from account tenant user group trust context whoami env policy audit spend automation scan scaffold login logout auth server completion help" -f -a "group" -d 'Manage groups, the only holders of permissions'
complete -c plat -n "__fish_plat_using_subcommand help; and not __fish_seen_subcommand_from account tenant user group trust context whoami env policy audit spend automation scan scaffold login logout auth server completion help" -f -a "trust" -d 'Trust rules: let external tokens (GitHub Actions jobs) act with a group\'s permissions'
complete -c plat -n "__fish_plat_using_subcommand help; and not __fish_seen_subcommand_from account tenant user group trust context whoami env policy audit spend automation scan scaffold login logout auth server completion help" -f -a "context" -d 'Manage contexts: which platform plat talks to, and as whom'
complete -c plat -n "__fish_plat_using_subcommand help; and not __fish_seen_subcommand_from account tenant user group trust context whoami env policy audit spend automation scan scaffold login logout auth server completion help" -f -a "whoami" -d 'Show who you are acting as, in which account, with which permissions'
complete -c plat -n "__fish_plat_using_subcommand help; and not __fish_seen_subcommand_from account tenant user group trust context whoami env policy audit spend automation scan scaffold login logout auth server completion help" -f -a "env" -d 'Short-lived environments provisioned by Terraform/OpenTofu'
complete -c plat -n "__fish_plat_using_subcommand help; and not __fish_seen_subcommand_from account tenant user group trust context whoami env policy audit spend automation scan scaffold login logout auth server completion help" -f -a "policy" -d 'Environment policies: lifetime limits, daily quota, monthly budget and templates that need approval'
complete -c plat -n "__fish_plat_using_subcommand help; and not __fish_seen_subcommand_from account tenant user group trust context whoami env policy audit spend automation scan scaffold login logout auth server completion help" -f -a "audit" -d 'The audit trail: every write and every refusal, by whom, where and when'
complete -c plat -n "__fish_plat_using_subcommand help; and not __fish_seen_subcommand_from account tenant user group trust context whoami env policy audit spend automation scan scaffold login logout auth server completion help" -f -a "spend" -d 'Spend of environments in this account and its sub-accounts, by account, tenant or label'
complete -c plat -n "__fish_plat_using_subcommand help; and not __fish_seen_subcommand_from account tenant user group trust context whoami env policy audit spend automation scan scaffold login logout auth server completion help" -f -a "automation" -d 'Automations: define, run and follow the platform\'s processes'
complete -c plat -n "__fish_plat_using_subcommand help; and not __fish_seen_subcommand_from account tenant user group trust context whoami env policy audit spend automation scan scaffold login logout auth server completion help" -f -a "scan" -d 'Inventory and policy checks over manifests, Terraform state and live clusters'
complete -c plat -n "__fish_plat_using_subcommand help; and not __fish_seen_subcommand_from account tenant user group trust context whoami env policy audit spend automation scan scaffold login logout auth server completion help" -f -a "scaffold" -d 'Create projects from Backstage Software Templates, offline, and keep them updatable'
complete -c plat -n "__fish_plat_using_subcommand help; and not __fish_seen_subcommand_from account tenant user group trust context whoami env policy audit spend automation scan scaffold login logout auth server completion help" -f -a "login" -d 'Log in to a plat server with your identity provider (OIDC device flow)'
complete -c plat -n "__fish_plat_using_subcommand help; and not __fish_seen_subcommand_from account tenant user group trust context whoami env policy audit spend automation scan scaffold login logout auth server completion help" -f -a "logout" -d 'Forget the login of the current context and revoke its refresh token'
complete -c plat -n "__fish_plat_using_subcommand help; and not __fish_seen_subcommand_from account tenant user group trust context whoami env policy audit spend automation scan scaffold login logout auth server completion help" -f -a "auth" -d 'Inspect the current login'
complete -c plat -n "__fish_plat_using_subcommand help; and not __fish_seen_subcommand_from account tenant user group trust context whoami env policy audit spend automation scan scaffold login logout auth server completion help" -f -a "server" -d 'Serve the platform to a team over HTTP (SQLite or PostgreSQL, OIDC bearer tokens)'
complete -c plat -n "__fish_plat_using_subcommand help; and not __fish_seen_subcommand_from account tenant user group trust context whoami env policy audit spend automation scan scaffold login logout auth server completion help" -f -a "completion" -d 'Print a shell completion script'
complete -c plat -n "__fish_plat_using_subcommand help; and not __fish_seen_subcommand_from account tenant user group trust context whoami env policy audit spend automation scan scaffold login logout auth server completion help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c plat -n "__fish_plat_using_subcommand help; and __fish_seen_subcommand_from account" -f -a "list" -d 'List the current account and every account below it'
complete -c plat -n "__fish_plat_using_subcommand help; and __fish_seen_subcommand_from account" -f -a "show" -d 'Show one account'
complete -c plat -n "__fish_plat_using_subcommand help; and __fish_seen_subcommand_from account" -f -a "create" -d 'Create a sub-account of the current account'
complete -c plat -n "__fish_plat_using_subcommand help; and __fish_seen_subcommand_from account" -f -a "update" -d 'Change a sub-account\'s name, tenant, owner or roles (your own account: its name only)'
complete -c plat -n "__fish_plat_using_subcommand help; and __fish_seen_subcommand_from account" -f -a "delete" -d 'Delete a sub-account that has no sub-accounts of its own'
complete -c plat -n "__fish_plat_using_subcommand help; and __fish_seen_subcommand_from tenant" -f -a "list" -d 'List the tenants your account owns or is bound to'
complete -c plat -n "__fish_plat_using_subcommand help; and __fish_seen_subcommand_from tenant" -f -a "show" -d 'Show one tenant'
complete -c plat -n "__fish_plat_using_subcommand help; and __fish_seen_subcommand_from tenant" -f -a "create" -d 'Create a tenant for your sub-accounts'
complete -c plat -n "__fish_plat_using_subcommand help; and __fish_seen_subcommand_from tenant" -f -a "update" -d 'Change a tenant\'s domain or branding'
complete -c plat -n "__fish_plat_using_subcommand help; and __fish_seen_subcommand_from tenant" -f -a "delete" -d 'Delete a tenant no account is bound to'
complete -c plat -n "__fish_plat_using_subcommand help; and __fish_seen_subcommand_from user" -f -a "list" -d 'List the users linked to the current account'
complete -c plat -n "__fish_plat_using_subcommand help; and __fish_seen_subcommand_from user" -f -a "show" -d 'Show one linked user'
complete -c plat -n "__fish_plat_using_subcommand help; and __fish_seen_subcommand_from user" -f -a "create" -d 'Link a user to the current account, creating the platform user if needed'
complete -c plat -n "__fish_plat_using_subcommand help; and __fish_seen_subcommand_from user" -f -a "update" -d 'Change your own display name (users own themselves)'
complete -c plat -n "__fish_plat_using_subcommand help; and __fish_seen_subcommand_from user" -f -a "revoke" -d 'Remove a user\'s access to the current account; the user is kept'
complete -c plat -n "__fish_plat_using_subcommand help; and __fish_seen_subcommand_from group" -f -a "list" -d 'List the current account\'s groups'
complete -c plat -n "__fish_plat_using_subcommand help; and __fish_seen_subcommand_from group" -f -a "show" -d 'Show one group with its permissions and members'
complete -c plat -n "__fish_plat_using_subcommand help; and __fish_seen_subcommand_from group" -f -a "create" -d 'Create a group with permissions'
complete -c plat -n "__fish_plat_using_subcommand help; and __fish_seen_subcommand_from group" -f -a "update" -d 'Add or remove permissions of a group'
complete -c plat -n "__fish_plat_using_subcommand help; and __fish_seen_subcommand_from group" -f -a "delete" -d 'Delete a group (predefined groups stay)'
complete -c plat -n "__fish_plat_using_subcommand help; and __fish_seen_subcommand_from group" -f -a "add-member" -d 'Add a linked user to a group'
complete -c plat -n "__fish_plat_using_subcommand help; and __fish_seen_subcommand_from group" -f -a "remove-member" -d 'Remove a user from a group'
complete -c plat -n "__fish_plat_using_subcommand help; and __fish_seen_subcommand_from group" -f -a "link-idp" -d 'Give the members of an identity-provider group this group\'s permissions'
complete -c plat -n "__fish_plat_using_subcommand help; and __fish_seen_subcommand_from group" -f -a "unlink-idp" -d 'Remove an identity-provider group\'s link to this group'
complete -c plat -n "__fish_plat_using_subcommand help; and __fish_seen_subcommand_from group" -f -a "permissions" -d 'List every permission a group can hold'
complete -c plat -n "__fish_plat_using_subcommand help; and __fish_seen_subcommand_from trust" -f -a "list" -d 'List the account\'s trust rules'
complete -c plat -n "__fish_plat_using_subcommand help; and __fish_seen_subcommand_from trust" -f -a "add" -d 'Let tokens of an external issuer (a GitHub Actions job) act with a group\'s permissions'
complete -c plat -n "__fish_plat_using_subcommand help; and __fish_seen_subcommand_from trust" -f -a "delete" -d 'Delete a trust rule: its tokens are refused from the next request'
complete -c plat -n "__fish_plat_using_subcommand help; and __fish_seen_subcommand_from context" -f -a "list" -d 'List contexts; the current one is marked'
complete -c plat -n "__fish_plat_using_subcommand help; and __fish_seen_subcommand_from context" -f -a "show" -d 'Show a context (default: the current one)'
complete -c plat -n "__fish_plat_using_subcommand help; and __fish_seen_subcommand_from context" -f -a "use" -d 'Make a context the current one'
complete -c plat -n "__fish_plat_using_subcommand help; and __fish_seen_subcommand_from context" -f -a "add" -d 'Add or replace a context'
complete -c plat -n "__fish_plat_using_subcommand help; and __fish_seen_subcommand_from context" -f -a "delete" -d 'Delete a context'
complete -c plat -n "__fish_plat_using_subcommand help; and __fish_seen_subcommand_from env" -f -a "template" -d 'Environment templates: built-in ones and those in PLAT_TEMPLATE_PATH'
complete -c plat -n "__fish_plat_using_subcommand help; and __fish_seen_subcommand_from env" -f -a "up" -d 'Provision an environment from a template (Terraform/OpenTofu); it is destroyed when it expires'
complete -c plat -n "__fish_plat_using_subcommand help; and __fish_seen_subcommand_from env" -f -a "list" -d 'List this account\'s environments'
complete -c plat -n "__fish_plat_using_subcommand help; and __fish_seen_subcommand_from env" -f -a "show" -d 'Show an environment: status, expiry, resources, outputs'
complete -c plat -n "__fish_plat_using_subcommand help; and __fish_seen_subcommand_from env" -f -a "logs" -d 'Print the Terraform log of an environment\'s last run'
complete -c plat -n "__fish_plat_using_subcommand help; and __fish_seen_subcommand_from env" -f -a "outputs" -d 'Print an environment\'s outputs (sensitive values redacted)'
complete -c plat -n "__fish_plat_using_subcommand help; and __fish_seen_subcommand_from env" -f -a "extend" -d 'Push an environment\'s expiry to now + DURATION (capped by the policy\'s maximum lifetime)'
complete -c plat -n "__fish_plat_using_subcommand help; and __fish_seen_subcommand_from env" -f -a "down" -d 'Destroy an environment; an environment already gone is not an error'
complete -c plat -n "__fish_plat_using_subcommand help; and __fish_seen_subcommand_from env" -f -a "quota" -d 'How many environments you may still create today'
complete -c plat -n "__fish_plat_using_subcommand help; and __fish_seen_subcommand_from env" -f -a "reap" -d 'Destroy every expired environment (for cron or a CI schedule)'
complete -c plat -n "__fish_plat_using_subcommand help; and __fish_seen_subcommand_from env" -f -a "approve" -d 'Approve an environment of a protected template; its requester\'s `env up` then provisions it'
complete -c plat -n "__fish_plat_using_subcommand help; and __fish_seen_subcommand_from env" -f -a "reject" -d 'Reject an environment of a protected template; nothing is provisioned'
complete -c plat -n "__fish_plat_using_subcommand help; and __fish_seen_subcommand_from policy" -f -a "show" -d 'Show the environment policy in force for the current account'
complete -c plat -n "__fish_plat_using_subcommand help; and __fish_seen_subcommand_from policy" -f -a "set" -d 'Tighten the environment policy of the current account, or of a tenant it owns'
complete -c plat -n "__fish_plat_using_subcommand help; and __fish_seen_subcommand_from audit" -f -a "list" -d 'List who did what in this account and its sub-accounts, newest first (needs audit:read)'
complete -c plat -n "__fish_plat_using_subcommand help; and __fish_seen_subcommand_from automation" -f -a "apply" -d 'Create or update an automation from a YAML definition (apiVersion: plat.dev/v1, kind: Automation)'
complete -c plat -n "__fish_plat_using_subcommand help; and __fish_seen_subcommand_from automation" -f -a "list" -d 'List this account\'s automations'
complete -c plat -n "__fish_plat_using_subcommand help; and __fish_seen_subcommand_from automation" -f -a "show" -d 'Show an automation: trigger, parameters, steps'
complete -c plat -n "__fish_plat_using_subcommand help; and __fish_seen_subcommand_from automation" -f -a "delete" -d 'Delete an automation (its runs stay on record)'
complete -c plat -n "__fish_plat_using_subcommand help; and __fish_seen_subcommand_from automation" -f -a "run" -d 'Run an automation now and follow it; exits 0 when it succeeds, 1 when it fails'
complete -c plat -n "__fish_plat_using_subcommand help; and __fish_seen_subcommand_from automation" -f -a "runs" -d 'List runs, newest first'
complete -c plat -n "__fish_plat_using_subcommand help; and __fish_seen_subcommand_from automation" -f -a "logs" -d 'Print the log of a run'
complete -c plat -n "__fish_plat_using_subcommand help; and __fish_seen_subcommand_from automation" -f -a "cancel" -d 'Stop a run: its running step is killed'
complete -c plat -n "__fish_plat_using_subcommand help; and __fish_seen_subcommand_from scan" -f -a "rules" -d 'List the rule catalogue: id, name, default severity, target and how to fix, then the rules of the Rego policies (--policy DIR, else .plat/policies/)'
complete -c plat -n "__fish_plat_using_subcommand help; and __fish_seen_subcommand_from scan" -f -a "list" -d 'List the inventories this account has published with --publish'
complete -c plat -n "__fish_plat_using_subcommand help; and __fish_seen_subcommand_from scan" -f -a "show" -d 'Show a published inventory: summary and findings, or its Backstage entities'
complete -c plat -n "__fish_plat_using_subcommand help; and __fish_seen_subcommand_from scaffold" -f -a "list" -d 'List the templates: built-in ones and those in PLAT_TEMPLATE_PATH'
complete -c plat -n "__fish_plat_using_subcommand help; and __fish_seen_subcommand_from scaffold" -f -a "show" -d 'Show a template\'s parameters: title, type, required, default and choices'
complete -c plat -n "__fish_plat_using_subcommand help; and __fish_seen_subcommand_from scaffold" -f -a "run" -d 'Create a project from a template, offline; publish it with git when the template says so'
complete -c plat -n "__fish_plat_using_subcommand help; and __fish_seen_subcommand_from scaffold" -f -a "update" -d 'Bring a generated project up to date with its template (three-way merge; exit 3 on conflicts)'
complete -c plat -n "__fish_plat_using_subcommand help; and __fish_seen_subcommand_from auth" -f -a "status" -d 'Show whether you are logged in to the current context, as whom, until when'
complete -c plat -n "__fish_plat_using_subcommand help; and __fish_seen_subcommand_from auth" -f -a "token" -d 'Print a valid access token (refreshed if needed) for use in scripts'
complete -c plat -n "__fish_plat_using_subcommand help; and __fish_seen_subcommand_from server" -f -a "migrate" -d 'Create or upgrade the database schema, then exit'
complete -c plat -n "__fish_plat_using_subcommand help; and __fish_seen_subcommand_from server" -f -a "openapi" -d 'Print the OpenAPI document the server serves at /api/v1/openapi.json'
