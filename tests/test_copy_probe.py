"""The substitution probe of bench.copy_probe: which sentences it probes and what counts as kept."""

from bench.copy_probe import kept, probes, unseen_names


def test_probes_substitute_only_what_every_reference_keeps():
    pairs = [
        ("Tom is tall.", "Tom est grand."),
        ("Tom is tall.", "Tom est de grande taille."),
        ("Mary left at 5.", "Mary est partie à 5 heures."),
        ("Mary left at 5.", "Elle est partie à cinq heures."),  # this reference drops both
        ("I have 12 cats.", "J'ai 12 chats."),
    ]
    found = probes(pairs, ["Nkechi"], seed=1)
    assert [(p["kind"], p["original"]) for p in found] == [("names", "Tom"), ("numbers", "12")]
    assert found[0]["probe"] == "Nkechi is tall."
    assert found[1]["probe"] != "I have 12 cats." and found[1]["substitute"] in found[1]["probe"]


def test_kept_needs_the_whole_token():
    assert kept("Nkechi est grande.", "Nkechi")
    assert not kept("Nkechine est grande.", "Nkechi")
    assert kept("J'ai 4512 chats.", "4512") and not kept("J'ai 45123 chats.", "4512")


def test_unseen_names_drop_names_found_in_the_data(tmp_path):
    data = tmp_path / "pairs.txt"
    data.write_text("Ingrid is here.\tIngrid est là.\n", encoding="utf-8")
    names = unseen_names(data)
    assert "Ingrid" not in names and "Nkechi" in names
