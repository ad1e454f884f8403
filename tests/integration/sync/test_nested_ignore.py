"""A nested ``.syncdignore`` excludes the server's entries too, not only local ones: what
a folder's rules exclude is neither downloaded into it nor deleted on the server."""

from __future__ import annotations

from tests.support.clients import remote_tree, write


def test_a_nested_rule_keeps_the_servers_files_out_of_the_folder(make_client):
    a, b = make_client("a"), make_client("b")
    write(a.folder / "proj/build/out.o", "object code")  # uploaded before any rule
    write(a.folder / "proj/src/main.c", "int main;")
    a.sync()
    write(b.folder / "proj/.syncdignore", "build/\n")
    b.sync()  # uploads the rule; the server's proj/build/ must not come down
    assert "proj/build/out.o" not in b.tree()
    assert "proj/src/main.c" in b.tree()
    write(a.folder / "proj/build/later.o", "more object code")
    a.sync()
    b.sync()
    assert not (b.folder / "proj/build").exists()
    server = remote_tree(a.server, a.api_key, a.workspace)
    assert {"proj/build/out.o", "proj/build/later.o", "proj/.syncdignore"} <= set(server)


def test_a_rule_that_no_longer_excludes_lets_the_servers_files_in(make_client):
    b = make_client("b")
    write(b.folder / "proj/.syncdignore", "build/\n")
    b.sync()
    a = make_client("a")
    a.sync()
    write(a.folder / "proj/build/out.o", "object code")
    (a.folder / "proj/.syncdignore").unlink()  # on a, the rule is gone: out.o goes up
    a.sync()
    b.sync()  # the rule's removal comes down first; out.o follows at the next sync
    b.sync()
    assert b.tree()["proj/build/out.o"] == a.tree()["proj/build/out.o"]
