// Item delegate that edits a cell with a combo box of the values the model offers through
// LayerTableModel::ChoicesRole (valid C_s' values, K values), so only valid values can be
// picked. Cells without choices get the default editor.
#pragma once

#include <QStyledItemDelegate>

namespace qcnn::ui {

class ChoiceDelegate : public QStyledItemDelegate {
    Q_OBJECT

public:
    using QStyledItemDelegate::QStyledItemDelegate;

    QWidget* createEditor(QWidget* parent, const QStyleOptionViewItem& option, const QModelIndex& index) const override;
    void setEditorData(QWidget* editor, const QModelIndex& index) const override;
    void setModelData(QWidget* editor, QAbstractItemModel* model, const QModelIndex& index) const override;
};

}  // namespace qcnn::ui
