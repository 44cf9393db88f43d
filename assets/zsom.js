/* ZSOM dashboard, browser side: the panels' drawing, hexagon tiling, timeline playback, debounced
 * settings, and the composed PNG export. Loaded by Dash from assets/; Plotly is the global one that
 * Dash serves from plotly's package (no CDN).
 *
 * Every id and constant comes from Python (components/client.py): the clientside
 * callbacks get the client config as State; the document's listeners read data-
 * attributes on the elements they work on. Nothing of Plotly or Dash is replaced. */
(function () {
    "use strict";

    function hexTraceIndices(gd, hex) {
        var indices = [];
        (gd.data || []).forEach(function (trace, i) {
            if (trace && trace.meta === hex.meta) { indices.push(i); }
        });
        return indices;
    }

    /* The marker size (pixels) that tiles a graph's map at its current scale, or null
     * while the graph has no map drawn. */
    function fittedHexSize(gd, hex) {
        var full = gd._fullLayout;
        if (!full || !full.xaxis || !full.xaxis._length || !hexTraceIndices(gd, hex).length) { return null; }
        var range = full.xaxis.range;
        return full.xaxis._length / Math.abs(range[1] - range[0]) * hex.size_per_unit + hex.overlap_px;
    }

    function staleHexTraces(gd, hex, size) {
        return hexTraceIndices(gd, hex).filter(function (i) {
            var marker = gd.data[i].marker || {};
            return typeof marker.size !== "number" || Math.abs(marker.size - size) > hex.tolerance_px;
        });
    }

    /* On screen the fitted size is written into the graph's data, as the epochs' patches
     * are (see drawUpdates), which leave it there: the map is drawn once per epoch, already
     * at the right size. It changes only when the map's scale does (the first draw, a
     * resize, a new grid's whole figure), and then costs one more draw, after the one that
     * revealed it. */
    function keepHexTiling(gd, hex) {
        var size = fittedHexSize(gd, hex);
        if (size === null) { return; }
        var stale = staleHexTraces(gd, hex, size);
        var asked = gd.__zsomHexAsked;
        // Asked already for this figure: the redraw is on its way.
        if (!stale.length || (asked && asked.data === gd.data && Math.abs(asked.size - size) <= hex.tolerance_px)) {
            return;
        }
        gd.__zsomHexAsked = {data: gd.data, size: size};
        setTimeout(function () {
            if (gd.__zsomHexAsked.data !== gd.data) { return; }  // drawn anew since: fitted after that draw
            redraw(gd, staleHexTraces(gd, hex, size).map(function (i) { return [["data", i, "marker", "size"], size]; }));
        }, 0);
    }

    function hookGraph(gd) {
        if (gd.__zsomHooked || typeof gd.on !== "function") { return; }
        var holder = gd.closest("[data-hex-tiling]");
        if (!holder) { return; }
        var hex = JSON.parse(holder.getAttribute("data-hex-tiling"));
        gd.__zsomHooked = true;
        gd.on("plotly_afterplot", function () { keepHexTiling(gd, hex); });
        keepHexTiling(gd, hex);  // its first draw may be over before the observer saw it
    }

    /* Plotly marks a graph's div with this class when it first draws there (dcc.Graph
     * mounts the div empty), so class changes are where new graphs show up. */
    new MutationObserver(function (records) {
        records.forEach(function (record) {
            var target = record.target;
            if (target.classList && target.classList.contains("js-plotly-plot")) { hookGraph(target); }
        });
    }).observe(document.documentElement, {subtree: true, attributes: true, attributeFilter: ["class"]});
    document.querySelectorAll(".js-plotly-plot").forEach(hookGraph);

    // A slider's value box commits on blur; let Enter commit it too, as people expect.
    document.addEventListener("keydown", function (event) {
        if (event.key === "Enter" && event.target.classList && event.target.classList.contains("dash-range-slider-input")) {
            event.target.blur();
        }
    });

    /* The upload's size limit and file types, checked before the browser reads the file.
     * dcc.Upload drops an oversized file, or one of another type, without a word; this says
     * why, next to the upload. Listeners on the document's capture phase run before
     * React's, so a refused file is never read. */
    function refusal(holder, file) {
        var limit = Number(holder.getAttribute("data-max-bytes"));
        var extensions = (holder.getAttribute("data-extensions") || "").split(",").filter(Boolean);
        var name = file.name.slice(0, 80);
        var dot = file.name.lastIndexOf(".");
        var extension = dot > 0 ? file.name.slice(dot).toLowerCase() : "";
        var mb = function (bytes) { return (bytes / 1048576).toFixed(1) + " MB"; };
        if (extensions.length && extensions.indexOf(extension) < 0) {
            return name + ": not a mesh or table file (" + (extension || "no extension") + "). Upload a file ending in " +
                extensions.join(", ") + ".";
        }
        if (limit && file.size > limit) {
            return name + ": the file is " + mb(file.size) + ", larger than the limit of " + mb(limit) +
                ". Simplify or decimate the mesh, or split the table, and try again.";
        }
        return null;
    }
    function refuseFile(event, files) {
        var holder = event.target && event.target.closest && event.target.closest("[data-max-bytes]");
        if (!holder || !files || !files.length) { return; }
        var message = refusal(holder, files[0]);
        if (message === null) { return; }
        event.preventDefault();
        event.stopPropagation();
        if (event.target.value) { event.target.value = ""; }
        window.dash_clientside.set_props(holder.getAttribute("data-message-id"), {
            children: {type: "Span", namespace: "dash_html_components", props: {className: "error", children: message}}
        });
    }
    document.addEventListener("change", function (event) {
        if (event.target && event.target.type === "file") { refuseFile(event, event.target.files); }
    }, true);
    document.addEventListener("drop", function (event) {
        refuseFile(event, event.dataTransfer && event.dataTransfer.files);
    }, true);

    /* A slider's own number box clamps a typed value into the slider's range without a
     * word (learning rate 5 becomes 1). The range is what the server accepts, so the value
     * is right; this says what happened, under the slider, until the next value typed. */
    function noteClampedValue(input) {
        var container = input.closest(".dash-slider-container");
        var row = container && container.parentElement;
        if (!row) { return; }
        var note = row.querySelector(".field-note");
        var typed = parseFloat(input.value), low = parseFloat(input.min), high = parseFloat(input.max);
        var clamped = isNaN(typed) ? null : typed < low ? low : typed > high ? high : null;
        if (clamped === null) {
            if (note) { note.remove(); }
            return;
        }
        if (!note) {
            note = document.createElement("div");
            note.className = "field-note";
            note.setAttribute("role", "status");
            container.after(note);
        }
        var label = row.querySelector(".field-label");
        note.textContent = (label ? label.textContent : "The value") + " goes from " + low + " to " + high +
            ": " + input.value + " was set to " + clamped + ".";
    }
    function isSliderBox(target) {
        return target && target.type === "number" && target.closest && target.closest(".dash-slider-container");
    }
    document.addEventListener("keydown", function (event) {
        if (event.key === "Enter" && isSliderBox(event.target)) { noteClampedValue(event.target); }
    }, true);
    document.addEventListener("focusout", function (event) {
        if (isSliderBox(event.target)) { noteClampedValue(event.target); }
    }, true);

    /* Names and roles that Dash's controls do not give themselves, for screen readers and
     * the keyboard. Each control's holder names its label (data-control-label, see
     * components/layout.py): a slider's handle and value box, a dropdown's button and an
     * upload's file input are labelled by it. Radio items and checklists, which Dash marks
     * up as a listbox of options around native inputs, become a radio group (or a group)
     * of native inputs, the ones Tab, the arrow keys and Space work on; a checklist shown
     * as a switch (class "switch") says so. A dropdown's hidden focus relay, which hands
     * focus on to its button, is left out in favour of the button itself. */
    function setAttributeOnce(element, name, value) {
        if (element.getAttribute(name) !== value) { element.setAttribute(name, value); }
    }

    function labelControls(holder) {
        var label = holder.getAttribute("data-control-label");
        holder.querySelectorAll("[role=slider], input.dash-range-slider-input, input[type=file], .dash-radioitems")
            .forEach(function (element) { setAttributeOnce(element, "aria-labelledby", label); });
        holder.querySelectorAll(".dash-dropdown-wrapper").forEach(function (wrapper) {
            var relay = wrapper.querySelector(".dash-dropdown-focus-target");
            var button = wrapper.querySelector("button.dash-dropdown");
            if (relay) { setAttributeOnce(relay, "inert", ""); }
            if (!button) { return; }
            setAttributeOnce(button, "tabindex", "0");
            var names = (button.getAttribute("aria-labelledby") || "").split(" ").filter(function (name) {
                return name && name !== label;
            });
            setAttributeOnce(button, "aria-labelledby", [label].concat(names).join(" "));
        });
    }

    function groupOptions(list) {
        setAttributeOnce(list, "role", list.classList.contains("dash-radioitems") ? "radiogroup" : "group");
        list.querySelectorAll(".dash-options-list-option").forEach(function (option) {
            if (option.hasAttribute("role")) { option.removeAttribute("role"); }
            if (option.hasAttribute("aria-selected")) { option.removeAttribute("aria-selected"); }
        });
        if (list.classList.contains("switch")) {
            list.querySelectorAll("input[type=checkbox]").forEach(function (input) {
                setAttributeOnce(input, "role", "switch");
            });
        }
    }

    function makeControlsAccessible() {
        document.querySelectorAll("[data-control-label]").forEach(labelControls);
        document.querySelectorAll(".dash-radioitems, .dash-checklist").forEach(groupOptions);
    }

    // Again after whatever Dash renders outside the graphs (an option's aria-selected comes
    // back with each choice); attributes are only written where they differ, so this settles.
    new MutationObserver(function (records) {
        var outsideGraphs = records.some(function (record) {
            return !(record.target.closest && record.target.closest(".js-plotly-plot"));
        });
        if (outsideGraphs) { makeControlsAccessible(); }
    }).observe(document.documentElement, {subtree: true, childList: true, attributes: true,
                                          attributeFilter: ["aria-selected"]});
    makeControlsAccessible();

    function graphDiv(id) {
        var container = document.getElementById(id);
        if (!container) { return null; }
        return container.classList.contains("js-plotly-plot") ? container : container.querySelector(".js-plotly-plot");
    }

    var TYPED_ARRAYS = {f4: Float32Array, f8: Float64Array, i1: Int8Array, i2: Int16Array, i4: Int32Array,
                        u1: Uint8Array, u2: Uint16Array, u4: Uint32Array};

    /* An array as Plotly takes it: a typed-array spec ({dtype, bdata}, as the server's
     * patches send arrays) decoded, anything else as it is. */
    function decoded(values) {
        if (!values || typeof values.bdata !== "string" || !TYPED_ARRAYS[values.dtype]) { return values; }
        var text = atob(values.bdata), bytes = new Uint8Array(text.length);
        for (var i = 0; i < text.length; i++) { bytes[i] = text.charCodeAt(i); }
        return new TYPED_ARRAYS[values.dtype](bytes.buffer);
    }

    function loadImage(url) {
        return new Promise(function (resolve, reject) {
            var image = new Image();
            image.onload = function () { resolve(image); };
            image.onerror = function () { reject(new Error("a panel could not be rendered")); };
            image.src = url;
        });
    }

    function statusText(id) {
        var status = document.getElementById(id);
        return status ? status.innerText.replace(/\s+/g, " ").trim() : "";
    }

    /* Each 3-D scene of a graph as a PNG data URL with its domain, read from the live scene's
     * own WebGL context: a new context compiles every shader again (seconds without a GPU),
     * and the live scene is what the user sees, turned as they turned it. Null where Plotly
     * offers no such image; the export then draws the panel anew. */
    function sceneImages(gd) {
        var full = gd._fullLayout || {};
        var ids = (full._subplots && full._subplots.gl3d) || [];
        var scenes = ids.map(function (id) { return full[id] && full[id]._scene; });
        if (!scenes.every(function (scene) { return scene && typeof scene.toImage === "function"; })) { return null; }
        return scenes.map(function (scene, i) { return {domain: full[ids[i]].domain, url: scene.toImage("png")}; });
    }

    /* What the graph says it draws (the server tags each epoch's patch), as Plotly drew it. */
    function drawnTag(gd) {
        var asked = gd.layout && gd.layout.meta, drawn = gd._fullLayout && gd._fullLayout.meta;
        if (!asked || !drawn || asked.run !== drawn.run || asked.epoch !== drawn.epoch) { return null; }
        return asked;
    }

    /* Every panel of the composed figure as drawn now, all in one task (so no answer of the
     * server lands between two of them), or null while a panel draws another run or epoch
     * than the view state says. Traces share their arrays with the live graphs; traces and
     * markers are copied, as the export changes some of their attributes. */
    function freezePanels(spec, view) {
        var frozen = [];
        for (var i = 0; i < spec.cells.length; i++) {
            var gd = graphDiv(spec.cells[i].panel);
            var tag = gd && gd.data && drawnTag(gd);
            if (!tag || tag.run !== view.run || tag.epoch !== view.epoch) { return null; }
            var flat = [];  // by trace index: whether it is drawn in the plane (not in a 3-D scene)
            (gd._fullData || []).forEach(function (trace) { flat[trace.index] = !trace.scene; });
            frozen.push({
                cell: spec.cells[i], gd: gd, margin: gd._fullLayout.margin, flat: flat,
                data: gd.data.map(function (trace) {
                    var copy = Object.assign({}, trace);
                    if (trace.marker) { copy.marker = Object.assign({}, trace.marker); }
                    return copy;
                }),
                layout: JSON.parse(JSON.stringify(gd.layout))
            });
        }
        frozen.forEach(function (panel) { panel.scenes = sceneImages(panel.gd); });
        return frozen;
    }

    /* The marker size that tiles a frozen map at width x height: the maps' margins are fixed
     * and their axes keep equal scales inside the plot area, so the scale is the smaller of
     * the two axes' pixels per unit. */
    function exportHexSize(panel, width, height, hex) {
        var full = panel.gd._fullLayout, margin = panel.margin;
        if (!full.xaxis || !full.yaxis) { return null; }
        var xSpan = Math.abs(full.xaxis.range[1] - full.xaxis.range[0]);
        var ySpan = Math.abs(full.yaxis.range[1] - full.yaxis.range[0]);
        var perUnit = Math.min((width - margin.l - margin.r) / xSpan, (height - margin.t - margin.b) / ySpan);
        return perUnit * hex.size_per_unit + hex.overlap_px;
    }

    /* The measured curves up to the shown epoch: the export shows the run as it was then. */
    function upToEpoch(trace, epoch) {
        var x = decoded(trace.x), y = decoded(trace.y);
        if (!x || !y || !x.length) { return; }
        var count = 0;
        while (count < x.length && x[count] <= epoch) { count++; }
        trace.x = Array.prototype.slice.call(x, 0, count);
        trace.y = Array.prototype.slice.call(y, 0, count);
    }

    /* One frozen panel at width x height CSS pixels: its 2-D part as SVG (WebGL 2-D traces
     * drawn as SVG ones: vector, and no WebGL context to create), the 3-D scenes as read
     * from the live ones. Resolves to [image, scenes], scenes as [image, domain]. */
    function renderPanel(panel, width, height, scale, view, config) {
        var hexSize = exportHexSize(panel, width, height, config.hex);
        var layout = Object.assign(panel.layout, {width: width, height: height, autosize: false});
        var data = panel.data.filter(function (_trace, i) { return !panel.scenes || panel.flat[i] !== false; });
        if (panel.scenes && panel.scenes.length) {
            // Without its 3-D traces, the frame would draw Plotly's default plane axes.
            layout.xaxis = {visible: false};
            layout.yaxis = {visible: false};
        }
        data.forEach(function (trace) {
            if (trace.type === "scattergl") { trace.type = "scatter"; }
            if (trace.meta === config.hex.meta && hexSize !== null && trace.marker) { trace.marker.size = hexSize; }
            if (trace.meta === config.measured_meta) { upToEpoch(trace, view.epoch); }
        });
        var figure = {data: data, layout: layout, config: {}};
        var format = panel.scenes ? "svg" : "png";  // a scene drawn anew is a raster already
        return window.Plotly.toImage(figure, {format: format, width: width, height: height, scale: scale})
            .then(loadImage)
            .then(function (image) {
                return Promise.all((panel.scenes || []).map(function (scene) {
                    return loadImage(scene.url).then(function (sceneImage) { return [sceneImage, scene.domain]; });
                })).then(function (scenes) { return [image, scenes]; });
            });
    }

    /* An image drawn into a box, whole and centred (a live scene keeps its on-screen shape). */
    function drawContained(context, image, x, y, width, height) {
        var fit = Math.min(width / image.width, height / image.height);
        var w = image.width * fit, h = image.height * fit;
        context.drawImage(image, x + (width - w) / 2, y + (height - h) / 2, w, h);
    }

    function downloadCanvas(canvas, filename) {
        return new Promise(function (resolve, reject) {
            canvas.toBlob(function (blob) {
                if (!blob) { reject(new Error("the figure could not be encoded")); return; }
                var url = URL.createObjectURL(blob);
                var link = document.createElement("a");
                link.href = url;
                link.download = filename;
                document.body.appendChild(link);
                link.click();
                link.remove();
                setTimeout(function () { URL.revokeObjectURL(url); }, 10000);
                resolve();
            }, "image/png");
        });
    }

    function safeName(text) {
        return String(text || "data").replace(/[^A-Za-z0-9_.-]+/g, "-").replace(/^-+|-+$/g, "").slice(0, 60) || "data";
    }

    function say(config, text) {
        window.dash_clientside.set_props(config.ids.export_message, {children: text});
    }

    /* The panels frozen at the view's epoch, as soon as every graph has drawn it (the page
     * asks the server for nothing meanwhile, so they converge). */
    function frozenPanels(spec, view, config, started) {
        view = newestView(view);
        var frozen = freezePanels(spec, view);
        if (frozen) { return Promise.resolve([view, frozen]); }
        if (Date.now() - started > config.export_wait_ms) {
            return Promise.reject(new Error("the panels are still drawing epoch " + view.epoch + "; try again"));
        }
        return new Promise(function (resolve) { setTimeout(resolve, 50); }).then(function () {
            return frozenPanels(spec, view, config, started);
        });
    }

    /* All panels of the shown epoch as one PNG, laid out by the server's export spec. */
    function composeFigure(view, spec, config) {
        var header = config.export_header;
        var tileW = spec.tile[0], tileH = spec.tile[1], scale = spec.scale;
        return frozenPanels(spec, view, config, Date.now()).then(function (frozen) {
            var panels = frozen[1], done = 0;
            view = frozen[0];
            var canvas = document.createElement("canvas");
            canvas.width = spec.columns * tileW * scale;
            canvas.height = (spec.header + spec.rows * tileH) * scale;
            var context = canvas.getContext("2d");
            context.fillStyle = header.background;
            context.fillRect(0, 0, canvas.width, canvas.height);
            var left = 16 * scale, room = canvas.width - 32 * scale, band = spec.header * scale;
            context.textBaseline = "middle";
            context.fillStyle = header.title_color;
            context.font = "600 " + (header.title_size * scale) + "px " + header.font;
            context.fillText("ZSOM: " + (view.label || "data") + ", epoch " + view.epoch, left, band * 0.25, room);
            context.fillStyle = header.text_color;
            context.font = (header.text_size * scale) + "px " + header.font;
            context.fillText(view.settings || "", left, band * 0.54, room);
            context.fillText(statusText(config.ids.status), left, band * 0.8, room);
            say(config, "Exporting 1 of " + panels.length + " panels...");
            // Concurrently: each panel waits for little but Plotly and the image decoder.
            return Promise.all(panels.map(function (panel) {
                var cell = panel.cell, width = tileW * cell.span;
                return renderPanel(panel, width, tileH, scale, view, config).then(function (rendered) {
                    var x = cell.column * tileW * scale, y = (spec.header + cell.row * tileH) * scale;
                    context.drawImage(rendered[0], x, y, width * scale, tileH * scale);
                    var margin = panel.margin, plotW = width - margin.l - margin.r, plotH = tileH - margin.t - margin.b;
                    rendered[1].forEach(function (scene) {
                        var domain = scene[1];
                        drawContained(context, scene[0], x + (margin.l + domain.x[0] * plotW) * scale,
                                      y + (margin.t + (1 - domain.y[1]) * plotH) * scale,
                                      (domain.x[1] - domain.x[0]) * plotW * scale, (domain.y[1] - domain.y[0]) * plotH * scale);
                    });
                    done++;
                    say(config, done < panels.length ? "Exporting " + (done + 1) + " of " + panels.length + " panels..."
                                                     : "Saving the figure...");
                });
            })).then(function () {
                var name = "zsom-" + safeName(view.label) + "-epoch-" + view.epoch + ".png";
                return downloadCanvas(canvas, name).then(function () { return name; });
            });
        });
    }

    var settingsToken = 0;
    // The answer whose restored settings were last taken for an echo.
    var echoSeq = null;
    // The timeline player: when it started, from and to which epoch, and the step it sent last.
    var player = {started: 0, from: 1, to: 1, sent: null, sentAt: 0};
    // The page's poll of the server (see callbacks/run_page.py): the answer counted last and
    // the view state it brought; the last answer the page has drawn and been idle since,
    // and when; when the last request went out, whether its answer is awaited, and the
    // page's busy time then.
    var poll = {seq: null, view: null, drawnSeq: 0, drawnAt: 0, sentAt: 0, awaiting: false, busyAtSend: 0};
    // The server's panel updates not drawn yet, by panel in the export's order (each a list of
    // figures and patches, applied in order), the answer they came with, whether the user
    // asked for it, and whether the drawer is at work.
    var drawer = {queues: {}, order: [], seq: 0, behind: false, asked: false, running: false};
    // Whether a composed export is being drawn: the page asks for no news meanwhile.
    var exporting = false;
    // The main thread's time in long tasks (over 50 ms) so far, and the user's last input.
    var busy = {ms: 0};
    var lastInput = 0;

    if (window.PerformanceObserver && (PerformanceObserver.supportedEntryTypes || []).indexOf("longtask") >= 0) {
        new PerformanceObserver(function (list) {
            list.getEntries().forEach(function (entry) { busy.ms += entry.duration; });
        }).observe({type: "longtask"});
    }
    ["pointerdown", "keydown", "wheel"].forEach(function (type) {
        document.addEventListener(type, function () { lastInput = Date.now(); }, {capture: true, passive: true});
    });
    var whenIdle = window.requestIdleCallback || function (callback) { return window.requestAnimationFrame(callback); };

    function newestView(view) {
        return poll.view && (!view || (poll.view.seq || 0) >= (view.seq || 0)) ? poll.view : (view || {});
    }

    function menuOpen() {
        return document.querySelector("[aria-haspopup][aria-expanded='true']") !== null;
    }

    /* Whether the user is working a control: a recent press or key, or an open menu. */
    function userBusy(now, config) {
        return now - lastInput < (config.input_hold_ms || 0) || menuOpen();
    }

    /* A promise of the graph in container ``id`` having drawn (Plotly's afterplot), kept
     * after ``waitMs`` if it never says so (a graph not mounted yet draws when it is). */
    function afterDraw(id, waitMs) {
        var gd = graphDiv(id);
        return new Promise(function (resolve) {
            if (gd && typeof gd.once === "function") { gd.once("plotly_afterplot", resolve); }
            setTimeout(resolve, gd ? waitMs : 0);
        });
    }

    /* Draws the queued panel updates one panel per task: each graph's redraw is a long task
     * of its own (a large map's 3-D panel alone takes a tenth of a second or more without a
     * GPU), and between two of them the browser handles what the user did. Nothing is drawn
     * while a menu is open; a panel's updates that pile up meanwhile are drawn in one
     * redraw. (Pressing and typing hold the poll, not the drawing: what arrives then is
     * what the user asked for, a timeline position or a run.) Once every queue is empty the
     * answer counts as drawn for the poll. */
    function panelsHidden(config) {
        var panels = document.getElementById(config.ids.panels);
        return panels !== null && panels.hidden;
    }

    /* A panel's queued updates folded into as few as draw the same: the newest whole figure
     * with the patches after it applied, or one patch holding each path's newest value
     * (every epoch's patch assigns the same paths). */
    function compacted(updates) {
        var last = -1;
        updates.forEach(function (update, i) { if (!isPatch(update)) { last = i; } });
        if (last >= 0) { return [patched(updates[last], updates.slice(last + 1))]; }
        if (updates.length < 2) { return updates; }
        var newest = new Map();
        updates.forEach(function (patch) {
            patch.operations.forEach(function (operation) {
                var path = JSON.stringify(operation.location);
                newest.delete(path);  // re-inserted last: the order of the newest assignments
                newest.set(path, operation);
            });
        });
        return [Object.assign({}, updates[updates.length - 1], {operations: Array.from(newest.values())})];
    }

    /* The data panel's points recoloured on the graph itself (as the epochs' patches are
     * drawn), their own marker kept to go back to: per figure, as a new figure (another
     * run, other data) comes with its own. */
    var cloud = {request: null};
    function applyCloud(config) {
        var request = cloud.request;
        var gd = graphDiv(config.ids.data_view);
        if (!request || panelsHidden(config) || !gd || !gd.data || !gd.data[request.trace]) { return; }
        var trace = gd.data[request.trace];
        if (gd.__zsomCloudFor !== trace.x) {
            gd.__zsomCloudFor = trace.x;
            gd.__zsomCloudMarker = trace.marker;
        }
        var marker = gd.__zsomCloudMarker;
        if (request.mode === "clusters") {
            marker = Object.assign({}, marker, {color: request.codes, colorscale: request.colorscale, cmin: -0.5,
                                                cmax: request.cmax, showscale: false, opacity: 0.8});
        }
        if (request.members) {
            var base = typeof marker.size === "number" ? marker.size : 2;
            marker = Object.assign({}, marker, {size: request.members.map(function (member) {
                return member ? base * 3.5 : base; })});
        }
        if (marker !== trace.marker) { window.Plotly.restyle(gd, {marker: [marker]}, [request.trace]); }
    }

    function drawPanels(config) {
        // Behind another tab the panels are not drawn at all: their updates are folded
        // together, to be drawn in one redraw each once the tab shows again, and the
        // answer counts as drawn, so that the poll (and the shown views) go on.
        if (panelsHidden(config)) {
            drawer.order.forEach(function (panel) {
                if ((drawer.queues[panel] || []).length) { drawer.queues[panel] = compacted(drawer.queues[panel]); }
            });
            poll.drawnSeq = drawer.seq;
            poll.drawnAt = Date.now();
            setTimeout(function () { drawPanels(config); }, config.draw_pause_ms);
            return;
        }
        if (menuOpen()) {
            setTimeout(function () { drawPanels(config); }, config.draw_pause_ms);
            return;
        }
        var waiting = drawer.order.filter(function (panel) { return (drawer.queues[panel] || []).length; });
        if (!waiting.length) {
            drawer.running = false;
            var seq = drawer.seq;
            var drawn = function () {
                if (drawer.running || drawer.seq !== seq) { return; }
                poll.drawnSeq = seq;
                poll.drawnAt = Date.now();
            };
            // A page catching up with the store (new data, another run, a reload) asks
            // again once the answer is on screen: those few answers are not a stream.
            if (drawer.behind) { window.requestAnimationFrame(drawn); }
            else { whenIdle(drawn, {timeout: config.draw_wait_ms}); }
            return;
        }
        // What the user asked for (a timeline position, a run) is drawn in one go, as one
        // frame: they wait for all of it.
        var drawing = (drawer.asked ? waiting : waiting.slice(0, 1)).map(function (id) {
            var updates = drawer.queues[id];
            drawer.queues[id] = [];
            try {
                return drawUpdates(id, updates, config);
            } catch (error) {
                console.error("ZSOM could not draw " + id, error);  // the other panels are drawn all the same
                return null;
            }
        });
        drawer.asked = false;
        var next = function () { setTimeout(function () { drawPanels(config); }, 0); };
        Promise.all(drawing).then(next, next);
    }

    function isPatch(update) {
        return Boolean(update) && update.__dash_patch_update === "__dash_patch_update";
    }

    /* ``container`` with ``value`` at ``path``, copied along the path and shared elsewhere. */
    function assigned(container, path, value) {
        if (!path.length) { return value; }
        var copy = Array.isArray(container) ? container.slice() : Object.assign({}, container);
        copy[path[0]] = assigned(container === null || container === undefined ? {} : container[path[0]],
                                 path.slice(1), value);
        return copy;
    }

    /* ``figure`` with ``patches`` applied (the server's patches only assign). */
    function patched(figure, patches) {
        patches.forEach(function (patch) {
            patch.operations.forEach(function (operation) {
                if (operation.operation !== "Assign") { throw new Error("unexpected patch " + operation.operation); }
                figure = assigned(figure, operation.location, operation.params.value);
            });
        });
        return figure;
    }

    /* Draws a graph's data and layout with ``assignments`` ([path, value] pairs) made. */
    function redraw(gd, assignments) {
        var figure = {data: gd.data, layout: gd.layout};
        assignments.forEach(function (assignment) { figure = assigned(figure, assignment[0], assignment[1]); });
        window.Plotly.react(gd, figure.data, figure.layout);
    }

    /* A panel's queued updates, in order. A whole figure (with the patches after it applied)
     * becomes the graph's figure prop, which dcc.Graph draws. Patches on a drawn graph are
     * drawn on the graph itself: through Dash's store, each epoch's arrays would be copied
     * into the figure prop and every component of the page asked whether it changed, which
     * takes as long as drawing. The prop then lags behind the graph until the next whole
     * figure; nothing draws the prop before that. */
    function drawUpdates(id, updates, config) {
        var last = -1;
        updates.forEach(function (update, i) { if (!isPatch(update)) { last = i; } });
        var gd = graphDiv(id);
        if (last < 0 && gd && gd.data) {
            var figure = patched({data: gd.data, layout: gd.layout}, updates);
            return window.Plotly.react(gd, figure.data, figure.layout);
        }
        var drawn = afterDraw(id, config.draw_wait_ms);
        if (last >= 0) {
            window.dash_clientside.set_props(id, {figure: patched(updates[last], updates.slice(last + 1))});
        } else {
            updates.forEach(function (patch) { window.dash_clientside.set_props(id, {figure: patch}); });
        }
        return drawn;
    }

    window.dash_clientside = window.dash_clientside || {};
    window.dash_clientside.zsom = {
        play: function (_clicks, _ticks, value, max, stopped, config) {
            var noUpdate = window.dash_clientside.no_update;
            var trigger = window.dash_clientside.callback_context.triggered_id;
            var now = Date.now();
            value = value || 1;
            max = max || 1;
            if (trigger === config.ids.play) {
                if (!stopped || max <= 1) { return [noUpdate, true, "\u25B6"]; }
                var from = value >= max ? 1 : value;
                player = {started: now, from: from, to: max, sent: from, sentAt: now};
                return [value >= max ? 1 : noUpdate, false, "\u275A\u275A"];
            }
            if (value >= player.to) { return [noUpdate, true, "\u25B6"]; }
            if (value !== player.sent && now - player.sentAt < config.play_retry_ms) { return [noUpdate, false, noUpdate]; }
            var share = Math.min(1, (now - player.started) / config.play_duration_ms);
            var target = Math.max(value + 1, Math.round(player.from + share * (player.to - player.from)));
            player.sent = Math.min(player.to, target);
            player.sentAt = now;
            return [player.sent, false, noUpdate];
        },

        /* Whether the page's poll of the server is due: once the page has drawn the last
         * answer and been idle since for poll_ms, or for POLL_BUSY_SHARE times as long as
         * the answer kept the main thread busy, whichever is longer; or retry_ms after a
         * request whose answer never came. No poll goes out while the user works a control
         * or an export is drawn. Dash calls this only once no request of show_runs is out
         * (it reads the view state show_runs writes), so a poll never overtakes another
         * request, whose answer Dash would drop; after the answer to a request the page
         * sent for another reason (a click, a setting, a timeline move, not the server's
         * own echo of the timeline or the run menu) the pace starts again. The view state,
         * then the config. */
        pacePoll: function () {
            var context = window.dash_clientside.callback_context;
            var inputs = context.inputs_list;
            var config = arguments[arguments.length - 1] || {};
            var view = arguments[arguments.length - 2] || {};
            var now = Date.now();
            var fired = {};
            context.triggered.forEach(function (item) { fired[item.prop_id] = true; });
            var firedAt = function (i) { return fired[inputs[i].id + "." + inputs[i].property]; };
            if (view.seq !== poll.seq) {
                poll.seq = view.seq;
                poll.view = view;
                poll.awaiting = false;
            }
            // The timeline and the run menu (the last two inputs) fire with the server's own
            // writes too; those echoes ask nothing, though they may come with what does (a
            // Train click's answer moves both).
            var last = inputs.length - 1;
            var echo = function (i) {
                return (i === last - 1 && inputs[i].value === Math.max(view.epoch || 0, 1)) ||
                       (i === last && inputs[i].value === view.run);
            };
            var asked = false;
            for (var i = 1; i <= last; i++) { asked = asked || (Boolean(firedAt(i)) && !echo(i)); }
            if (asked) {
                // Dash held this call until show_runs had answered (it reads the view state
                // show_runs writes): the user's request is answered, the pace starts again.
                poll.sentAt = now;
                poll.busyAtSend = busy.ms;
            }
            if (!firedAt(0) || exporting || userBusy(now, config)) { return window.dash_clientside.no_update; }
            var stretch = view.behind ? 0 : (busy.ms - poll.busyAtSend) * (config.poll_busy_share || 0);
            var rest = Math.max(view.poll_ms || 1000, stretch);
            var drawn = poll.drawnSeq === (view.seq || 0);
            var due = poll.awaiting ? now - poll.sentAt >= (view.retry_ms || 5000) : drawn && now - poll.drawnAt >= rest;
            if (!due) { return window.dash_clientside.no_update; }
            poll.awaiting = true;
            poll.sentAt = now;
            poll.busyAtSend = busy.ms;
            return now;
        },

        /* An answer's panel updates ({seq, panels: {id: figure or patch}}), drawn by drawPanels. */
        queuePanels: function (updates, view, config) {
            if (!updates || !updates.panels) { return; }
            drawer.order = config.panels;
            Object.keys(updates.panels).forEach(function (id) {
                (drawer.queues[id] = drawer.queues[id] || []).push(updates.panels[id]);
            });
            drawer.seq = updates.seq;
            drawer.behind = Boolean(view && view.behind);
            drawer.asked = drawer.asked || Boolean(view && view.asked);
            if (!drawer.running) {
                drawer.running = true;
                drawPanels(config);
            }
        },

        /* The run and epoch the page shows, from its view state: a new value only when one
         * of them changes, which is when the views' tabs have something new to show. */
        viewKey: function (view, key) {
            var shown = {run: (view && view.run) || null, epoch: (view && view.epoch) || 0};
            // Before the first run there is no map to read: the views wait, unasked.
            if (!key && !shown.run) { return window.dash_clientside.no_update; }
            if (key && key.run === shown.run && key.epoch === shown.epoch) { return window.dash_clientside.no_update; }
            return shown;
        },

        /* The main area's tab: the training panels, or the views with the chosen one. */
        showTab: function (tab, config) {
            var views = ["clusters", "planes", "labels", "new-data"];
            if (tab === "training") { window.requestAnimationFrame(function () { applyCloud(config); }); }
            return [tab !== "training", tab === "training"].concat(views.map(function (view) { return view !== tab; }));
        },

        /* How the data panel's points are to be coloured (by their unit's cluster, the chosen
         * unit's samples larger): drawn now, or once the training panels show again. */
        colourCloud: function (request, config) {
            cloud.request = request;
            applyCloud(config);
        },

        /* The settings' values, then the view state and the client config. The first change
         * after an answer that restored a run's settings is that answer's own echo: nothing
         * to tell the server (Dash would not send it, as the server's output triggered it). */
        debounceSettings: function () {
            var config = arguments[arguments.length - 1];
            var view = arguments[arguments.length - 2] || {};
            if (view.restored && view.seq !== echoSeq) {
                echoSeq = view.seq;
                ++settingsToken;  // a change still waiting to be sent is overtaken by the restore
                return window.dash_clientside.no_update;
            }
            var token = ++settingsToken;
            return new Promise(function (resolve) {
                setTimeout(function () {
                    resolve(token === settingsToken ? Date.now() : window.dash_clientside.no_update);
                }, config.debounce_ms);
            });
        },

        exportFigure: function (_clicks, view, spec, config) {
            if (!window.Plotly || !spec || !config) { return "export is not available"; }
            if (exporting) { return window.dash_clientside.no_update; }
            view = newestView(view);
            if (!view.run || !view.epoch) { return "Nothing to export yet: train a map, or choose a run, first."; }
            if (panelsHidden(config)) { return "The figure is the Training tab's panels: open that tab first."; }
            exporting = true;
            var started = Date.now();
            return composeFigure(view, spec, config).then(function (name) {
                return "Saved " + name + " in " + ((Date.now() - started) / 1000).toFixed(1) + " s";
            }, function (error) {
                return "Export failed: " + error.message;
            }).finally(function () { exporting = false; });
        }
    };
})();

/* AG Grid's functions by name (dash_ag_grid reads this namespace): a role cell's menu
 * offers the roles its row's kind of column can take, which the server put in the row. */
window.dashAgGridFunctions = window.dashAgGridFunctions || {};
window.dashAgGridFunctions.zsomRoleChoices = function (params) {
    return { values: (params.data && params.data.choices) || [] };
};
/* A number in a read-only grid: four significant digits, empty where missing. */
window.dashAgGridFunctions.zsomNumber = function (value) {
    return value === null || value === undefined ? "" : Number(value.toPrecision(4)).toString();
};
