"""Built-in datasets."""
from __future__ import annotations

import functools

from benchbed.builtin import imagenet
from benchbed.builtin.dataset_loaders import check_torchvision_files, load_digits_split, load_torchvision_split
from benchbed.contracts.hookspecs import hookimpl
from benchbed.contracts.specs import DatasetSpec

CIFAR10_CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")


@hookimpl
def register_datasets(register):
    register(DatasetSpec(
        name="digits", num_classes=10, image_shape=(1, 8, 8), loader=load_digits_split, embedded=True,
        class_names=tuple(str(i) for i in range(10)),
        description="scikit-learn handwritten digits (UCI), 8x8 grayscale; test = every 4th image (449), "
                    "train = the other 1,348",
    ))
    register(DatasetSpec(
        name="cifar10", num_classes=10, image_shape=(3, 32, 32), class_names=CIFAR10_CLASSES,
        loader=functools.partial(load_torchvision_split, "cifar10"),
        check=functools.partial(check_torchvision_files, "cifar10"),
        description="CIFAR-10 (torchvision), 50,000 train / 10,000 test, 32x32 RGB",
    ))
    register(DatasetSpec(
        name="cifar100", num_classes=100, image_shape=(3, 32, 32),
        loader=functools.partial(load_torchvision_split, "cifar100"),
        check=functools.partial(check_torchvision_files, "cifar100"),
        description="CIFAR-100 (torchvision), 50,000 train / 10,000 test, 32x32 RGB",
    ))
    register(DatasetSpec(
        name="svhn", num_classes=10, image_shape=(3, 32, 32), class_names=tuple(str(i) for i in range(10)),
        loader=functools.partial(load_torchvision_split, "svhn"),
        check=functools.partial(check_torchvision_files, "svhn"),
        description="SVHN cropped digits (torchvision), 73,257 train / 26,032 test, 32x32 RGB",
    ))
    register(DatasetSpec(
        name=imagenet.NAME, num_classes=imagenet.NUM_CLASSES, image_shape=imagenet.IMAGE_SHAPE,
        loader=imagenet.load_imagenet, check=imagenet.check_imagenet,
        description=f"ImageNet (ILSVRC2012) validation: RobustBench's fixed 5,000-image subset (its list of file "
                    f"names) from your val/<wnid>/ folder; preprocessing {imagenet.PREPROCESSING}; test split only",
    ))
