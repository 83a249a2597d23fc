"""Sphinx configuration of hybridrec's documentation site.

Build (from the repository root, after ``pip install -e ".[docs]"``)::

    python -m sphinx -W --keep-going -b html docs docs/_build/html

``-W`` turns every warning into an error: broken references, a public object without a
docstring (numpydoc's GL08 check), a tutorial cell that raises. The API reference is
generated at each build from the package itself (``_api.py``): one page per public module,
so a new module or a new name in ``__all__`` appears without editing the docs.
"""

from __future__ import annotations

import sys
from pathlib import Path

DOCS = Path(__file__).resolve().parent
sys.path.insert(0, str(DOCS))

from _api import write_api_pages  # noqa: E402

import hybridrec  # noqa: E402

project = "hybridrec"
author = "the hybridrec developers"
copyright = "the hybridrec developers, Apache-2.0"  # noqa: A001 - Sphinx's setting name
version = release = hybridrec.__version__

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.mathjax",
    "numpydoc",
    "myst_nb",
]

exclude_patterns = ["_build", "**.ipynb_checkpoints", "api/_templates"]
templates_path = ["_templates"]
source_suffix = {".rst": "restructuredtext", ".md": "myst-nb"}

# --- references: every cross-reference must resolve (-W makes a miss an error). The
# build is offline, so other projects' names (numpy.ndarray, pandas.DataFrame, ...) are
# not linked; they are listed here instead of being reported.
nitpicky = True
nitpick_ignore_regex = [
    (r"py:.*", r"(numpy|np|pandas|pd|scipy|sp|dask|distributed|numba|pyarrow|sklearn)(\..*)?"),
    (r"py:.*", r"(collections|typing|pathlib|os|concurrent|threading|datetime|uuid)(\..*)?"),
]

# --- API reference: autodoc + numpydoc.
write_api_pages(DOCS / "api")
autosummary_generate = True
autosummary_imported_members = True
autodoc_typehints = "none"          # the numpydoc sections carry the types
autodoc_member_order = "bysource"
numpydoc_show_class_members = False
numpydoc_xref_param_type = False
numpydoc_class_members_toctree = False
# A public function, class or method without a docstring fails the build.
numpydoc_validation_checks = {"GL08"}
numpydoc_validation_exclude = {
    r"\.__init__$", r"\.__repr__$", r"\.__len__$", r"\.__iter__$", r"\.__getitem__$",
    r"\.__eq__$", r"\.__hash__$", r"\.__getattr__$", r"\.__sklearn_is_fitted__$",
    r"\.__sklearn_tags__$", r"\.__getstate__$", r"\.__setstate__$", r"\.__call__$",
    # Representation specs / nets implement an interface documented once on their base
    # class (RepresentationSpec, SequenceNet); the overrides repeat no docstring.
    r"^hybridrec\.sequence\.representations\.(Pooling|CNN|LSTM|Mixture)Spec\.",
    r"^hybridrec\.spotlight\.sequence\.representations\.(Pool|CNN|LSTM|MixtureLSTM)Net"
    r"\.engine_spec$",
}

# --- tutorials: MyST notebooks executed at every build; a cell that raises fails it.
nb_execution_mode = "cache"
nb_execution_cache_path = str(DOCS / "_build" / ".jupyter_cache")
nb_execution_raise_on_error = True
nb_execution_show_tb = True
nb_execution_timeout = 600
nb_render_markdown_format = "myst"
nb_merge_streams = True
myst_enable_extensions = ["colon_fence", "dollarmath"]
myst_heading_anchors = 3

# --- HTML: the PyData theme, no external assets fetched at build time.
html_theme = "pydata_sphinx_theme"
html_title = f"hybridrec {release}"
html_static_path = ["_static"]
html_css_files = ["hybridrec.css"]
html_theme_options = {
    "navigation_depth": 2,
    "show_toc_level": 2,
    "navbar_align": "left",
    "footer_start": ["copyright"],
    "footer_end": ["sphinx-version"],
    "secondary_sidebar_items": ["page-toc"],
}
html_sidebars = {"index": [], "getting-started": []}
html_show_sourcelink = False


# --- short references in docstrings. A docstring written in its defining module says
# ``:class:`IdMapper``` or ``:meth:`Dataset.fit```; the object is documented where users
# import it (``hybridrec.data.IdMapper``). Resolve such a name when exactly one documented
# object's full name ends with it (after the current class, if any); anything else stays
# a broken reference, which -W makes an error.
def _resolve_short_name(app, env, node, contnode):
    if node.get("refdomain") != "py":
        return None
    target = node.get("reftarget", "")
    if not target or target.startswith(("hybridrec._", "_")) or "._" in target:
        return None
    domain = env.get_domain("py")
    objects = domain.objects
    candidates = []
    context = node.get("py:class")
    if context:
        candidates = [name for name in objects if name.endswith(f".{context}.{target}")]
    if not candidates:
        candidates = [name for name, entry in objects.items()
                      if name.endswith(f".{target}") and not entry.aliased]
    if len(candidates) > 1:
        # The same short name in two places (hybridrec.data.Interactions, Spotlight's
        # hybridrec.spotlight.interactions.Interactions): the one nearest the docstring.
        module = (node.get("py:module") or "").split(".")
        def shared(name):
            parts = name.split(".")
            return next((i for i, (a, b) in enumerate(zip(parts, module, strict=False))
                         if a != b),
                        min(len(parts), len(module)))
        best = max(shared(name) for name in candidates)
        candidates = [name for name in candidates if shared(name) == best]
    if len(candidates) != 1:
        return None
    from sphinx.util.nodes import make_refnode

    entry = objects[candidates[0]]
    return make_refnode(app.builder, node["refdoc"], entry.docname, entry.node_id, contnode,
                        candidates[0])


def setup(app):
    app.connect("missing-reference", _resolve_short_name)
    return {"parallel_read_safe": True}
