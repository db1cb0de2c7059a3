"""Tests for workshop.performance: argument checks and the FLOP count (no timings)."""

import pytest

from workshop import performance


@pytest.mark.parametrize("threads", [0, -1, 1.5, "2", True])
def test_configure_cpu_rejects_bad_threads(threads):
    with pytest.raises(ValueError, match="threads"):
        performance.configure_cpu(threads=threads)


@pytest.mark.parametrize("inter", [0, -2, 2.0])
def test_configure_cpu_rejects_bad_inter_op_threads(inter):
    with pytest.raises(ValueError, match="inter_op_threads"):
        performance.configure_cpu(threads=1, inter_op_threads=inter)


def test_available_cores_is_positive():
    assert performance.available_cores() >= 1


def test_flops_match_a_layer_by_layer_count():
    # 784-400-20: forward 2*(784*400 + 2*400*20 + 20*400 + 400*784); backward twice that,
    # less the first layer's input gradient.
    forward = 2 * (784 * 400 + 2 * 400 * 20 + 20 * 400 + 400 * 784)
    assert performance.matmul_flops_per_image((400,), 20) == 3 * forward - 2 * 784 * 400 == 3_280_000
    assert performance.matmul_flops_per_image((512, 256), 20) == 5_679_104


def test_dense_layer_sizes_mirror_the_encoder():
    assert performance.dense_layer_sizes((512, 256), 20) == [
        (784, 512),
        (512, 256),
        (256, 20),
        (256, 20),
        (20, 256),
        (256, 512),
        (512, 784),
    ]
    with pytest.raises(ValueError, match="latent_dim"):
        performance.dense_layer_sizes((400,), 0)
