# bash completion for secretfile: commands, their options (as `secretfile COMMAND --help` lists them), and secret
# names from `secretfile ls --json` where a command takes a NAME (names only, never values).
_secretfile() {
	local cur prev words cword
	_init_completion 2>/dev/null || { cur=${COMP_WORDS[COMP_CWORD]}; words=("${COMP_WORDS[@]}"); cword=$COMP_CWORD; }
	local commands="init add update get ls rm history rollback rotate import exec agent policy setup audit doctor report recipient recipients rekey export help"
	if [ "$cword" -eq 1 ]; then
		COMPREPLY=($(compgen -W "$commands --version --help" -- "$cur"))
		return
	fi
	local cmd=${words[1]}
	local i
	for ((i = 2; i < cword; i++)); do [ "${words[i]}" = "--" ] && { COMPREPLY=($(compgen -c -- "$cur")); return; }; done
	case "$prev" in
	--dir | --state-dir | --units-dir) COMPREPLY=($(compgen -d -- "$cur")); return ;;
	--policy | --audit | --env-file | --output | --credential) COMPREPLY=($(compgen -f -- "$cur")); return ;;
	esac
	case "$cmd" in
	policy) [ "$cword" -eq 2 ] && { COMPREPLY=($(compgen -W "check" -- "$cur")); return; } ;;
	recipients) [ "$cword" -eq 2 ] && { COMPREPLY=($(compgen -W "add ls rm" -- "$cur")); return; } ;;
	audit) [ "$cword" -eq 2 ] && [[ "$cur" != -* ]] && { COMPREPLY=($(compgen -W "verify" -- "$cur")); return; } ;;
	esac
	if [[ "$cur" == -* ]]; then
		local opts
		opts=$(secretfile "$cmd" --help 2>/dev/null | grep -oE -- '--[a-z][a-z-]*' | sort -u)
		COMPREPLY=($(compgen -W "$opts" -- "$cur"))
		return
	fi
	case "$cmd" in
	get | update | rm | history | rollback | rotate)
		COMPREPLY=($(compgen -W "$(secretfile ls --json 2>/dev/null | grep -oE '"name": *"[A-Za-z0-9_]+"' | sed 's/.*"\([A-Za-z0-9_]*\)"$/\1/')" -- "$cur"))
		;;
	import) COMPREPLY=($(compgen -f -- "$cur")) ;;
	esac
}
complete -F _secretfile secretfile
