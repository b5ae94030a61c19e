"""sha256 of each shipped checkpoint (``checkpoints/<name>.pt``), written by ``python -m
benchbed_digits_zoo.train`` and checked by ``--check`` and by every load."""

CHECKSUMS: dict[str, str] = {
    "digits-cnn-standard": "2b5fd274862946d2bd28890fabf063fbe9d77e580fbcac2d27d2845ee1582f77",
    "digits-cnn-pgdat": "40db41cf67f231a17fd5811fc2f41d0b2c02d4bea88eb9e1f1e40e6f60889a4f",
    "digits-cnn-trades": "59580de41af1d0b0d38a6be154cfa2a915bb24aea93f712e387839c74b0a2bc5",
    "digits-cnn-weat": "a5ab20cfb3cd3391e1307218ea23e96bec480126521eaab028a92a0596227b9a",
}
