import pytest

from calls.models import CallLog
from tests.factories import CallLogFactory


@pytest.mark.django_db
def test_factories_build_valid_rows():
    call = CallLogFactory.create()
    assert CallLog.objects.get() == call
