"""sha256 of each shipped checkpoint (``checkpoints/<name>.pt``), checked by every load.

These are properties of the shipped files, whatever machine made them: the first four were trained
on the original platform, the last three on the AVX-512 machine recorded in ``platforms.json``. What a
*retrain* gives depends on the platform; that is the table in ``platforms.json`` (see platforms.py).
"""

CHECKSUMS: dict[str, str] = {
    "digits-cnn-standard": "2b5fd274862946d2bd28890fabf063fbe9d77e580fbcac2d27d2845ee1582f77",
    "digits-cnn-pgdat": "40db41cf67f231a17fd5811fc2f41d0b2c02d4bea88eb9e1f1e40e6f60889a4f",
    "digits-cnn-trades": "59580de41af1d0b0d38a6be154cfa2a915bb24aea93f712e387839c74b0a2bc5",
    "digits-cnn-weat": "a5ab20cfb3cd3391e1307218ea23e96bec480126521eaab028a92a0596227b9a",
    "digits-cnn-weat-nat": "e3b84361f1a2af6a92c6b1abb6b4e54a8df7bc6052831f05ee21da7062d72faa",
    "digits-cnn-jem": "3930b587abb9beff6fd245941f0d3e4418cbf34712ee42ad623eb3ba88e5216b",
    "digits-cnn-dat": "cba3d6f68f540966b4d21ee1e8cf462b4fee5c15b6854b30341079829be4e17d",
}
