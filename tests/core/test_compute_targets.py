"""Compute targets: creating, attaching, finding and deleting them."""

from __future__ import annotations

import pytest

from plinth.core.compute import (
    AmlCompute,
    ComputeInstance,
    ComputeTarget,
    DatabricksCompute,
    RayCompute,
)
from plinth.core.compute_target import ComputeTargetException


def test_create_find_and_delete_a_training_cluster(ws, capsys):
    compute_name = "aml-cluster"
    with pytest.warns(UserWarning, match="this machine has"):
        compute_config = AmlCompute.provisioning_configuration(vm_size="STANDARD_DS12_V2",
                                                               min_nodes=0, max_nodes=4,
                                                               vm_priority="dedicated")
    aml_cluster = ComputeTarget.create(ws, compute_name, compute_config)
    aml_cluster.wait_for_completion(show_output=True)
    assert "Succeeded" in capsys.readouterr().out

    found = ComputeTarget(workspace=ws, name=compute_name)
    assert isinstance(found, AmlCompute)
    assert found.vm_size == "STANDARD_DS12_V2"
    assert found.scale_settings["maximum_node_count"] == 4
    assert found.get_status().provisioning_state == "Succeeded"
    assert set(ws.compute_targets) == {"aml-cluster"}
    with pytest.raises(ComputeTargetException, match="already exists"):
        ComputeTarget.create(ws, compute_name, compute_config)

    found.delete()
    with pytest.raises(ComputeTargetException, match="ComputeTarget.create"):
        ComputeTarget(workspace=ws, name=compute_name)


def test_checking_for_an_existing_compute_target(ws):
    compute_name = "aml-cluster"
    created = []
    for _ in range(2):  # the course's create-if-missing idiom, twice
        try:
            aml_cluster = ComputeTarget(workspace=ws, name=compute_name)
        except ComputeTargetException:
            compute_config = AmlCompute.provisioning_configuration(vm_size="STANDARD_D1_V2",
                                                                   max_nodes=4)
            aml_cluster = ComputeTarget.create(ws, compute_name, compute_config)
            created.append(aml_cluster)
        aml_cluster.wait_for_completion(show_output=False)
    assert len(created) == 1


def test_bad_configurations_and_unsupported_kinds(ws):
    with pytest.raises(ComputeTargetException, match="STANDARD_D2_V2"):
        AmlCompute.provisioning_configuration(vm_size="STANDARD_NOPE")
    with pytest.raises(ComputeTargetException, match="min_nodes"):
        AmlCompute.provisioning_configuration(vm_size="STANDARD_D1_V2", min_nodes=5,
                                              max_nodes=2)
    db_config = DatabricksCompute.attach_configuration(resource_group="db_resource_group",
                                                       workspace_name="db_workspace",
                                                       access_token="1234-abc-5678-defg-90")
    with pytest.raises(ComputeTargetException, match="NotSupported.*RayCompute"):
        ComputeTarget.attach(ws, "db-cluster", db_config)
    assert "db-cluster" not in ws.compute_targets
    with pytest.raises(ComputeTargetException, match="name"):
        ComputeTarget.create(ws, "local", ComputeInstance.provisioning_configuration())


def test_attach_a_ray_cluster_and_a_compute_instance(ws):
    ray = ComputeTarget.attach(ws, "team-ray", RayCompute.attach_configuration(
        address="10.0.0.5:6379", cpus_per_run=2))
    assert isinstance(ray, RayCompute) and ray.address == "10.0.0.5:6379"
    instance = ComputeTarget.create(ws, "my-instance",
                                    ComputeInstance.provisioning_configuration())
    assert isinstance(instance, ComputeInstance)
    assert {"team-ray", "my-instance"} == set(ws.compute_targets)
    ray.detach()
    assert set(ws.compute_targets) == {"my-instance"}
