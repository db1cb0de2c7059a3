"""Course-wide settings that several tools share: the one place to change them.

``COURSE_REPOSITORY`` is the public Git repository students install the package
from in Colab and that the "Open in Colab" links point into; ``COURSE_BRANCH``
the branch those links and installs use. ``notebooks build`` writes both into
every student notebook and ``site build`` into every page, so after changing
them run both commands again.
"""

COURSE_REPOSITORY = "https://github.com/vae-workshop/vae-workshop"
COURSE_BRANCH = "main"


def github_path(repository=None):
    """``owner/name`` of a ``https://github.com/owner/name`` address (a trailing ``.git`` dropped)."""
    address = (repository or COURSE_REPOSITORY).rstrip("/")
    prefix = "https://github.com/"
    if not address.startswith(prefix) or address[len(prefix) :].count("/") != 1:
        raise ValueError(f"Expected a repository address https://github.com/OWNER/NAME. Received: {address!r}")
    path = address[len(prefix) :]
    return path.removesuffix(".git")


def colab_url(notebook_name, repository=None, branch=None):
    """The Colab address that opens ``notebooks/<notebook_name>`` (always the student version)."""
    name = notebook_name.rsplit("/", 1)[-1]
    return f"https://colab.research.google.com/github/{github_path(repository)}/blob/{branch or COURSE_BRANCH}/notebooks/{name}"


def pip_requirement(repository=None, branch=None):
    """What ``pip install`` gets in Colab: the package from the course repository, nothing pinned."""
    address = (repository or COURSE_REPOSITORY).rstrip("/")
    if not address.endswith(".git"):
        address += ".git"
    return f"workshop @ git+{address}@{branch or COURSE_BRANCH}"
