"""POST /api/weights: upload a weights file (multipart); GET /api/weights/{id}: its record."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, File, Form, Path, UploadFile

from app.api.deps import FormKindOptions, SettingsDep, StoreDep
from app.errors import NotFound
from app.schemas import CellKind, ErrorPublic, WeightsPublic
from app.sessions.datadir import WEIGHT_EXTENSIONS
from app.sessions.uploads import accept_weights, read_vocabulary_upload, upload_record

router = APIRouter(tags=["weights"])


@router.post("/weights", status_code=201, response_model=WeightsPublic,
             responses={413: {"model": ErrorPublic}, 422: {"model": ErrorPublic}})
def upload_weights(
    file: Annotated[UploadFile, File(description=f"{', '.join(WEIGHT_EXTENSIONS)} (a cell or "
                                                 "a whole model)")],
    store: StoreDep,
    settings: SettingsDep,
    options: FormKindOptions,
    cell: Annotated[CellKind | None, Form(description="read as this kind (default: the file's)")]
    = None,
    layer: Annotated[int, Form(ge=0, le=1000, description="which recurrent layer")] = 0,
    vocabulary: Annotated[UploadFile | None, File(
        description="the model's tokens: vocab.json (a list) or vocab.txt (one per line)")]
    = None,
    branch: Annotated[str | None, Form(
        description="an .onnx model whose If node chooses its branch by the model's inputs "
                    "(one file for two sample rates): the branch to read, 'then' or "
                    "'else', or where Ifs nest a JSON object naming each If's branch "
                    "({\"by_rate\": \"then\", \"by_mode\": \"else\"}); default: the first "
                    "listed (the record lists what each holds and the text that reads it)")]
    = None,
    data: Annotated[UploadFile | None, File(
        description="an .onnx model's external data (model.onnx.data, as torch.onnx.export "
                    "writes it beside the model)")] = None,
) -> dict:
    """Parse the file with the engine (never unpickled) and keep it under its sha256, the
    `weights_id` that `POST /api/sessions` takes. The record says what the file holds:
    its name, the options it states and those it leaves open, its layers and directions,
    and which part a session uses (`shown`)."""
    tokens = None
    if vocabulary is not None and (vocabulary.filename or vocabulary.size):
        tokens = read_vocabulary_upload(vocabulary.file, vocabulary.filename or "vocabulary")
    external = (data.file, data.filename or "data") if data is not None and (
        data.filename or data.size) else None
    return accept_weights(store, settings, file.file, file.filename or "upload", cell or None,
                          layer, options, tokens, external, branch or None)


@router.get("/weights/{weights_id}", response_model=WeightsPublic,
            responses={404: {"model": ErrorPublic}})
def read_weights_record(weights_id: Annotated[str, Path(description="sha256 of the file")],
                        store: StoreDep) -> dict:
    """The record of an uploaded file, as `POST /api/weights` answered it."""
    meta = store.weights_meta(weights_id)  # the id is checked before any file system use
    if meta is None or store.weights_path(weights_id) is None:
        raise NotFound("weights_id", "no uploaded weights with this id")
    return upload_record(weights_id, meta)
