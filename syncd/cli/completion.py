"""``syncd completion bash|zsh|fish``: print the shell's completion script.

The script is click's own (``_SYNCD_COMPLETE=bash_source syncd`` prints the same); each
<TAB> runs ``syncd`` with the words typed so far, and ``syncd.cli.complete`` adds
workspace names and the paths of the folder's trash, conflicts and exclusions.
"""

from __future__ import annotations

import click
from click.shell_completion import get_completion_class

SHELLS = ("bash", "zsh", "fish")


@click.command()
@click.argument("shell", type=click.Choice(SHELLS))
def completion(shell: str) -> None:
    """Print the completion script of SHELL (bash, zsh or fish).

    \b
    bash:  eval "$(syncd completion bash)"      (in ~/.bashrc)
    zsh:   eval "$(syncd completion zsh)"       (in ~/.zshrc, after compinit)
    fish:  syncd completion fish > ~/.config/fish/completions/syncd.fish
    """
    from syncd.cli.main import cli

    completer = get_completion_class(shell)
    assert completer is not None  # every name of SHELLS is one of click's
    click.echo(completer(cli, {}, "syncd", "_SYNCD_COMPLETE").source())
