"""``POST /feedback``: did a chat answer help?"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from qa.serving.service import MAX_QUESTION_CHARS


class FeedbackRequest(BaseModel):
    """A reader's verdict on one chat answer. Nothing about the reader is sent or kept."""

    model_config = ConfigDict(
        extra="forbid",
        strict=True,
        json_schema_extra={
            "examples": [{"question": "What is the dose of pomalidomide?", "answer_id": "WyI…", "helpful": True}]
        },
    )

    question: str = Field(
        min_length=1,
        max_length=MAX_QUESTION_CHARS,
        pattern=r"\S",
        description=f"The question as asked (the chat response's `question`; 1 to {MAX_QUESTION_CHARS} characters).",
    )
    answer_id: str = Field(
        min_length=1,
        max_length=1024,
        pattern=r"^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$",
        description="The chat response's `answer_id`.",
    )
    helpful: bool = Field(description="Whether the answer answered the question.")
    citation: int | None = Field(
        None, ge=1, le=20, description="The number of the citation this is about, if one (1-based); else the answer."
    )


class FeedbackResponse(BaseModel):
    recorded: bool = Field(description="Always true: the feedback was stored.")
    feedback_id: int = Field(description="Id of the stored record.")
