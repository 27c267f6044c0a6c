"""``plinth datastore ...`` and ``plinth dataset ...``: a workspace's storage and datasets."""

import math
import re
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlsplit

import typer

from plinth.cli._common import (
    JsonOpt,
    WorkspaceConfigOpt,
    WorkspaceNameOpt,
    console,
    fail,
    handle_errors,
    key_value_table,
    local_iso,
    local_time,
    mapping_text,
    new_table,
    note,
    open_workspace,
    parse_pairs,
    print_json,
    short,
)

datastore_app = typer.Typer(help="List datastores; upload and download their files.",
                            no_args_is_help=True)
dataset_app = typer.Typer(help="Register, list, show and profile datasets.",
                          no_args_is_help=True)

DatastoreOpt = Annotated[
    str | None,
    typer.Option("--datastore", "-d", help="Datastore name [default: the workspace's default]",
                 show_default=False),
]
NoProgressOpt = Annotated[
    bool, typer.Option("--no-progress", help="Do not show a progress bar.")
]
DatasetNameArg = Annotated[str, typer.Argument(help="The dataset's name.")]
DatasetVersionOpt = Annotated[
    int | None,
    typer.Option("--version", "-v", min=1, help="Dataset version [default: the latest]",
                 show_default=False),
]

FORMATS = {"csv": "from_delimited_files", "parquet": "from_parquet_files",
           "jsonl": "from_json_lines_files"}


# -- datastores ----------------------------------------------------------------------------

def _without_userinfo(url: str) -> str:
    """``url`` without a ``user:password@`` part, should one have crept in."""
    return re.sub(r"^([a-zA-Z][\w+.-]*://)[^/@]*@", r"\1", url)


def _where(ws: Any, store: Any) -> str:
    """The container, bucket, folder or database of a datastore, written as the SDK writes
    it in messages; never a credential."""
    config = store._record.config
    kind = store.datastore_type
    if config.get("builtin"):
        root = ws._location.artifact_root
        prefix = config.get("prefix", "")
        if not root:
            return f"workspace server: {prefix}"
        return _without_userinfo(f"{root.rstrip('/')}/{prefix}")
    endpoint = str(config.get("endpoint") or "core.windows.net")
    account = config.get("account_name", "")
    if kind in ("AzureBlob", "AzureDataLakeGen2"):
        container = config.get("container_name") or config.get("filesystem", "")
        if endpoint.startswith(("http://", "https://")):  # a whole account URL (Azurite)
            return _without_userinfo(f"{endpoint.rstrip('/')}/{container}")
        service = "blob" if kind == "AzureBlob" else "dfs"
        return f"abfs://{container}@{account}.{service}.{endpoint}"
    if kind == "AzureFile":
        share = config.get("file_share_name", "")
        if endpoint.startswith(("http://", "https://")):
            return f"smb://{urlsplit(endpoint).hostname}/{share}"
        return f"smb://{account}.file.{endpoint}/{share}"
    if kind == "S3":
        root = "/".join(str(config[k]).strip("/") for k in ("bucket", "prefix")
                        if config.get(k))
        where = f"s3://{root}"
        if config.get("endpoint_url"):
            where += f" at {_without_userinfo(str(config['endpoint_url']))}"
        return where
    if kind == "Local":
        return str(config.get("path", "-"))
    if kind == "AzurePostgreSql":
        host = str(config.get("server_name", ""))
        if "." not in host and ":" not in host and host != "localhost":
            host = f"{host}.{config.get('endpoint', 'postgres.database.azure.com')}"
        return (f"postgresql://{host}:{config.get('port_number', 5432)}/"
                f"{config.get('database_name', '')}")
    return "-"


def _datastore_info(ws: Any, store: Any) -> dict[str, Any]:
    record = store._record
    return {
        "name": store.name,
        "type": store.datastore_type,
        "default": bool(store.is_default),
        "builtin": bool(record.config.get("builtin")),
        "where": _where(ws, store),
        "created": local_iso(record.created_at) if record.created_at else None,
        "settings": {k: v for k, v in record.config.items() if k != "builtin"},
        # Only which settings have a credential: the key vault keeps the values.
        "credentials": sorted(record.secrets),
    }


def _get_datastore(ws: Any, name: str | None) -> Any:
    from plinth.core import Datastore

    return ws.get_default_datastore() if name is None else Datastore.get(ws, name)


@datastore_app.command("list")
@handle_errors
def datastore_list(
    workspace_config: WorkspaceConfigOpt = None,
    workspace: WorkspaceNameOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """List the workspace's datastores; * marks the default."""
    ws = open_workspace(workspace_config, workspace)
    rows = [_datastore_info(ws, s) for s in ws.datastores.values()]
    if as_json:
        print_json(rows)
        return
    table = new_table()
    table.add_column("Name", overflow="fold", min_width=8)
    table.add_column("Type", no_wrap=True)
    table.add_column("Default", no_wrap=True)
    table.add_column("Where", overflow="fold", min_width=20)
    for row in rows:
        table.add_row(row["name"], row["type"], "*" if row["default"] else "", row["where"])
    console().print(table)


@datastore_app.command("show")
@handle_errors
def datastore_show(
    name: Annotated[str, typer.Argument(help="The datastore's name.")],
    workspace_config: WorkspaceConfigOpt = None,
    workspace: WorkspaceNameOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Show a datastore's settings, and which credentials it has (never their values)."""
    ws = open_workspace(workspace_config, workspace)
    data = _datastore_info(ws, _get_datastore(ws, name))
    if as_json:
        print_json(data)
        return
    rows: list[tuple[str, Any]] = [
        ("Name", data["name"]),
        ("Type", data["type"] + (" (built in)" if data["builtin"] else "")),
        ("Default", "yes" if data["default"] else "no"),
        ("Where", data["where"]),
        ("Created", local_time(data["created"])),
    ]
    rows += [(key, short(value, 200)) for key, value in data["settings"].items()]
    if data["credentials"]:
        rows += [(key, "set (in the key vault)") for key in data["credentials"]]
    elif not data["builtin"]:
        rows.append(("Credentials", "none" + (" (the default AWS credentials are used)"
                                              if data["type"] == "S3" else "")))
    console().print(key_value_table(rows, title=f"Datastore {data['name']}"))


def _progress(show: bool, as_json: bool) -> bool:
    # A progress bar never mixes with the JSON a script reads.
    return show and not as_json


@datastore_app.command("upload")
@handle_errors
def datastore_upload(
    src_dir: Annotated[
        Path, typer.Argument(help="Local folder: every file under it is uploaded.",
                             exists=True, file_okay=False, dir_okay=True)
    ],
    target_path: Annotated[
        str, typer.Option("--target-path", "-t", help="Folder in the datastore to upload to "
                          "(each file keeps its path under SRC_DIR).")
    ],
    datastore: DatastoreOpt = None,
    overwrite: Annotated[
        bool, typer.Option("--overwrite", help="Replace files already there (else skipped).")
    ] = False,
    no_progress: NoProgressOpt = False,
    workspace_config: WorkspaceConfigOpt = None,
    workspace: WorkspaceNameOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Upload a local folder to a datastore; prints how many files were uploaded."""
    ws = open_workspace(workspace_config, workspace)
    store = _get_datastore(ws, datastore)
    target = target_path.replace("\\", "/").strip("/")
    result = store._upload_folder(src_dir, target, overwrite,
                                  _progress(not no_progress, as_json))
    present = result.skipped
    data = {"datastore": store.name, "target_path": target,
            "files": len(result.copied) + len(present), "uploaded": len(result.copied),
            "skipped": len(present)}
    if as_json:
        print_json(data)
        return
    where = f"{store.name}:{target}" if target else store.name
    console().print(f"Uploaded {_files(data['uploaded'])} to {where}.")
    if present:
        note(f"{_files(len(present))} already there were skipped; pass --overwrite to replace "
             "them.")


@datastore_app.command("download")
@handle_errors
def datastore_download(
    target_dir: Annotated[
        Path, typer.Argument(help="Local folder to download into (files keep their paths).",
                             file_okay=False)
    ],
    datastore: DatastoreOpt = None,
    prefix: Annotated[
        str | None,
        typer.Option("--prefix", "-p", help="Only files whose path starts with this "
                     "[default: every file]", show_default=False),
    ] = None,
    overwrite: Annotated[
        bool, typer.Option("--overwrite", help="Replace local files that already exist.")
    ] = False,
    no_progress: NoProgressOpt = False,
    workspace_config: WorkspaceConfigOpt = None,
    workspace: WorkspaceNameOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Download a datastore's files (or those under --prefix); prints how many."""
    ws = open_workspace(workspace_config, workspace)
    store = _get_datastore(ws, datastore)
    count = store.download(str(target_dir), prefix=prefix, overwrite=overwrite,
                           show_progress=_progress(not no_progress, as_json))
    data = {"datastore": store.name, "prefix": prefix, "path": str(target_dir.resolve()),
            "downloaded": count}
    if as_json:
        print_json(data)
        return
    source = f"{store.name}:{prefix}" if prefix else store.name
    console().print(f"Downloaded {_files(count)} from {source} to {data['path']}.")
    if count == 0 and not overwrite:
        note("Files that already exist locally are skipped; pass --overwrite to replace them.")


def _files(count: int) -> str:
    return f"{count} file{'' if count == 1 else 's'}"


# -- datasets ------------------------------------------------------------------------------

def _source_text(source: dict[str, Any]) -> str:
    if "url" in source:
        return _without_userinfo(str(source["url"]))
    if "files" in source:
        return f"{source['datastore']}: {_files(len(source['files']))} (snapshot)"
    return f"{source.get('datastore')}:{source.get('path', '')}"


def _format_text(fmt: dict[str, Any] | None) -> str:
    if not fmt:
        return "-"
    name = fmt.get("format", "?")
    if name == "sql":
        return f"sql on {fmt.get('datastore')}: {fmt.get('query')}"
    options = [f"{k}={v!r}" for k, v in fmt.items() if k != "format" and v not in ({}, None)]
    return f"{name} ({', '.join(options)})" if options else name


def _transform_text(op: dict[str, Any]) -> str:
    args = ", ".join(f"{k}={short(v, 80) if isinstance(v, (dict, list)) else repr(v)}"
                     for k, v in op.items() if k != "op")
    return f"{op.get('op')}({args})"


def _dataset_info(ds: Any, runs: bool = False) -> dict[str, Any]:
    definition = ds.definition
    data: dict[str, Any] = {
        "name": ds.name,
        "version": ds.version,
        "id": ds.id,
        "kind": ds._record.kind if ds._record is not None else None,
        "description": ds.description,
        "tags": ds.tags,
        "registered": local_iso(ds.data_changed_time),
        "sources": [_source_text(s) for s in definition.get("sources", [])],
        "format": definition.get("format"),
        "transformations": definition.get("transforms", []),
    }
    if runs:
        data["runs"] = [{"id": r.id, "experiment": r.experiment.name,
                         "status": r.get_status()} for r in ds.get_runs()]
    return data


def _show_dataset(data: dict[str, Any], title: str, preview: Any = None) -> None:
    rows: list[tuple[str, Any]] = [
        ("Name", data["name"]),
        ("Version", data["version"]),
        ("Id", data["id"]),
        ("Kind", data["kind"]),
        ("Registered", local_time(data["registered"])),
        ("Description", data["description"]),
        ("Tags", mapping_text(data["tags"])),
        ("Sources", "\n".join(data["sources"]) or "-"),
    ]
    if data["kind"] == "tabular" or data["format"]:
        rows.append(("Format", _format_text(data["format"])))
    rows.append(("Transformations",
                 "\n".join(_transform_text(t) for t in data["transformations"]) or "-"))
    if "runs" in data:
        rows.append(("Runs", "\n".join(f"{r['id']} ({r['experiment']}, {r['status']})"
                                       for r in data["runs"]) or "-"))
    console().print(key_value_table(rows, title=title))
    if preview is not None:
        table = new_table(title=f"First {_rows(len(preview))}")
        for column in preview.columns:
            table.add_column(str(column), overflow="fold")
        for record in preview.itertuples(index=False):
            table.add_row(*(_cell(v) for v in record))
        console().print(table)


def _rows(count: int) -> str:
    return f"{count} row{'' if count == 1 else 's'}"


def _cell(value: Any) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    if isinstance(value, float):
        return f"{value:.6g}"
    return short(value, 60)


def _plain(value: Any) -> Any:
    """A JSON-friendly value: NaN and infinities become null, numpy scalars Python ones."""
    if hasattr(value, "item") and not isinstance(value, (str, bytes)):
        try:
            value = value.item()
        except (TypeError, ValueError):
            pass
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def _get_dataset(ws: Any, name: str, version: int | None) -> Any:
    from plinth.core import Dataset

    return Dataset.get_by_name(ws, name, "latest" if version is None else version)


@dataset_app.command("list")
@handle_errors
def dataset_list(
    name: Annotated[
        str | None, typer.Option("--name", help="Every version of this dataset.",
                                    show_default=False)
    ] = None,
    workspace_config: WorkspaceConfigOpt = None,
    workspace: WorkspaceNameOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """List the latest version of each registered dataset (or every version of --name)."""
    from plinth.data.abstract_dataset import AbstractDataset

    ws = open_workspace(workspace_config, workspace)
    records = ws._store.list_datasets(ws._id, name)
    if name is None:
        latest: dict[str, Any] = {}
        for record in records:  # by name, then newest first
            latest.setdefault(record.name, record)
        records = list(latest.values())
    rows = [_dataset_info(AbstractDataset._from_record(ws, r)) for r in records]
    if as_json:
        print_json(rows)
        return
    if not rows:
        console().print(f"No dataset named {name!r}." if name else
                        "No datasets registered yet. Register one with "
                        "`plinth dataset register`.")
        return
    table = new_table()
    table.add_column("Name", overflow="fold", min_width=8)
    table.add_column("Version", justify="right", no_wrap=True)
    table.add_column("Kind", no_wrap=True)
    table.add_column("Registered", no_wrap=True, min_width=16)
    table.add_column("Sources", overflow="fold", min_width=10)
    table.add_column("Tags", overflow="fold", min_width=4)
    table.add_column("Description", overflow="fold", min_width=6)
    for row in rows:
        table.add_row(row["name"], str(row["version"]), row["kind"],
                      local_time(row["registered"], seconds=False),
                      ", ".join(row["sources"]) or "-", mapping_text(row["tags"]),
                      row["description"] or "")
    console().print(table)


@dataset_app.command("show")
@handle_errors
def dataset_show(
    name: DatasetNameArg,
    version: DatasetVersionOpt = None,
    preview: Annotated[
        int | None,
        typer.Option("--preview", min=1, help="Also show the first N rows (tabular only).",
                     show_default=False),
    ] = None,
    workspace_config: WorkspaceConfigOpt = None,
    workspace: WorkspaceNameOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Show a dataset version: sources, format, transformations and the runs that used it."""
    ws = open_workspace(workspace_config, workspace)
    ds = _get_dataset(ws, name, version)
    data = _dataset_info(ds, runs=True)
    frame = None
    if preview is not None:
        if data["kind"] != "tabular":
            raise fail(f"--preview shows rows of a tabular dataset; {name!r} is a file "
                       "dataset.", code=2)
        frame = ds.take(preview).to_pandas_dataframe()
        data["preview"] = _plain(frame.to_dict(orient="records"))
    if as_json:
        print_json(data)
        return
    _show_dataset(data, f"Dataset {data['name']}:{data['version']}", preview=frame)


PROFILE_COLUMNS = ("type", "count", "missing", "distinct", "min", "max", "mean", "std")


@dataset_app.command("profile")
@handle_errors
def dataset_profile(
    name: DatasetNameArg,
    version: DatasetVersionOpt = None,
    workspace_config: WorkspaceConfigOpt = None,
    workspace: WorkspaceNameOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Profile a tabular dataset: per column its type, counts, and min/max/mean/std."""
    ws = open_workspace(workspace_config, workspace)
    ds = _get_dataset(ws, name, version)
    if ds._record.kind != "tabular":
        raise fail(f"Dataset {name!r} is a file dataset; only tabular ones have a profile.")
    profile = _plain(ds.get_profile())
    if as_json:
        print_json(profile)
        return
    table = new_table(title=f"Profile of dataset {ds.name}:{ds.version}")
    table.add_column("Column", overflow="fold", min_width=8)
    for key in PROFILE_COLUMNS:
        table.add_column(key.capitalize(), justify="left" if key == "type" else "right",
                         no_wrap=True)
    for column, stats in profile.items():
        table.add_row(column, *(_cell(stats.get(key)) for key in PROFILE_COLUMNS))
    console().print(table)


def _sources(ws: Any, paths: list[str]) -> list[Any]:
    """What ``Dataset.*.from_*(path=...)`` takes, from ``DATASTORE:GLOB``, URLs and local
    paths (a local path that looks like ``NAME:...`` can be written ``./NAME:...``)."""
    from plinth.core import Datastore

    items: list[Any] = []
    for path in paths:
        match = re.fullmatch(r"([^/\\:]{2,}):(.*)", path)
        if "://" in path or match is None:
            items.append(path)  # a URL, or a local path or glob
            continue
        name, pattern = match.groups()
        if not pattern.strip("/"):
            raise fail(f"--path {path!r}: give a path or glob after the datastore name, e.g. "
                       f"{name}:folder/*.csv.", code=2)
        items.append((Datastore.get(ws, name), pattern))
    return items


@dataset_app.command("register")
@handle_errors
def dataset_register(
    name: DatasetNameArg,
    path: Annotated[
        list[str],
        typer.Option("--path", "-p", help="DATASTORE:GLOB (e.g. workspaceblobstore:data/*.csv)"
                     ", a URL, or a local path or glob; repeat for more.", show_default=False),
    ],
    file: Annotated[
        bool, typer.Option("--file", help="A file dataset (any files) instead of a tabular one.")
    ] = False,
    fmt: Annotated[
        str | None,
        typer.Option("--format", "-f", help="Tabular files' format: csv, parquet or jsonl "
                     "[default: csv]", show_default=False),
    ] = None,
    separator: Annotated[
        str | None,
        typer.Option("--separator", help="CSV separator [default: ,]", show_default=False),
    ] = None,
    description: Annotated[
        str | None, typer.Option("--description", show_default=False)
    ] = None,
    tag: Annotated[
        list[str] | None,
        typer.Option("--tag", help="KEY=VALUE tag; repeat for more.", show_default=False),
    ] = None,
    new_version: Annotated[
        bool, typer.Option("--new-version", help="Register as a new version when NAME exists "
                           "with another definition.")
    ] = False,
    snapshot: Annotated[
        bool, typer.Option("--snapshot", help="Copy the data first, so this version never "
                           "changes.")
    ] = False,
    workspace_config: WorkspaceConfigOpt = None,
    workspace: WorkspaceNameOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Register files as a tabular dataset (or a file dataset with --file); prints its version."""
    from plinth._data import resolve
    from plinth.core import Dataset
    from plinth.exceptions import AlreadyExistsError, NotFoundError

    if file and (fmt is not None or separator is not None):
        raise fail("--format and --separator are for tabular datasets, not --file.", code=2)
    fmt = (fmt or "csv").lower()
    if fmt not in FORMATS:
        raise fail(f"--format {fmt!r} is not one of {', '.join(FORMATS)}.", code=2)
    if separator is not None and fmt != "csv":
        raise fail("--separator is for --format csv.", code=2)
    tags = parse_pairs(tag, "--tag")
    ws = open_workspace(workspace_config, workspace)
    sources = _sources(ws, path)
    source = sources if len(sources) > 1 else sources[0]
    # Validated below against this workspace: the factories cannot resolve local paths and
    # URLs (which name no workspace) on their own.
    if file:
        dataset = Dataset.File.from_files(path=source, validate=False)
    elif fmt == "csv":
        dataset = Dataset.Tabular.from_delimited_files(path=source, validate=False,
                                                       separator=separator or ",")
    else:
        dataset = getattr(Dataset.Tabular, FORMATS[fmt])(path=source, validate=False)
    resolve.resolve(ws._location, ws._id, dataset.definition.get("sources", []))
    try:
        previous = ws._store.get_dataset(ws._id, name).version
    except NotFoundError:
        previous = None
    try:
        registered = dataset.register(ws, name, description=description, tags=tags,
                                      create_new_version=new_version, snapshot=snapshot)
    except AlreadyExistsError as exc:
        raise fail(f"{exc} (On the command line: pass --new-version.)") from None
    data = _dataset_info(registered)
    data["new"] = registered.version != previous
    if as_json:
        print_json(data)
        return
    if data["new"]:
        title = f"Registered dataset {data['name']} version {data['version']}"
    else:
        title = f"Dataset {data['name']} version {data['version']} (unchanged)"
        note(f"Version {data['version']} of {data['name']!r} already has this definition; "
             "nothing new was registered.")
    _show_dataset(data, title)
