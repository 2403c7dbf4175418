"""An MCP server (stdio) whose tools answer with content besides text: an image, an
embedded resource, structured content, and a result marked as an error.

    python mcp_content_server.py
"""

from __future__ import annotations

from mcp.server.mcpserver import MCPServer
from mcp.types import (
    CallToolResult,
    EmbeddedResource,
    ImageContent,
    TextContent,
    TextResourceContents,
)

PNG = "iVBORw0KGgo="  # the first bytes of a PNG, in base64
pictures = MCPServer("pictures")


@pictures.tool()
def snapshot(city: str) -> CallToolResult:
    """A picture of a city, with a caption."""
    caption = TextContent(type="text", text=f"{city} skyline")
    image = ImageContent(type="image", data=PNG, mime_type="image/png")
    return CallToolResult(content=[caption, image])


@pictures.tool()
def forecast(city: str) -> CallToolResult:
    """The weather in a city, as text and as structured content."""
    text = TextContent(type="text", text=f'{{"city": "{city}", "sky": "clear"}}')
    return CallToolResult(content=[text], structured_content={"city": city, "sky": "clear"})


@pictures.tool()
def measured(city: str) -> CallToolResult:
    """The weather in a city, as structured content only."""
    return CallToolResult(content=[], structured_content={"city": city, "mm": 3})


@pictures.tool()
def guide(city: str) -> CallToolResult:
    """A guide to a city, as an embedded resource."""
    page = TextResourceContents(uri=f"guide://{city}", mime_type="text/plain", text="Walk.")
    return CallToolResult(content=[EmbeddedResource(type="resource", resource=page)])


@pictures.tool()
def broken(city: str) -> CallToolResult:
    """Always fails, with structured content beside its error text."""
    text = TextContent(type="text", text=f"No pictures of {city}.")
    return CallToolResult(content=[text], structured_content={"city": city}, is_error=True)


if __name__ == "__main__":
    pictures.run()
